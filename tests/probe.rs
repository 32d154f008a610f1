use crate::util::*;
#[tokio::test]
async fn probe() {
    let env = TestEnv::new("probe");
    let s = env.server().await;
    let tools = s.client.list_all_tools().await.unwrap();
    for t in tools { println!("{}", serde_json::to_string_pretty(&serde_json::json!({"name": t.name, "in": *t.input_schema, "out": t.output_schema.as_deref()})).unwrap()); }
    let st = s.stop().await;
    println!("STDERR {}", st.stderr);
}
