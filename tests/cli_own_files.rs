//! `export -o` and `backup` never write over the bridge's own files, even
//! with `--force`: before, `export -o bridge.key --force` replaced the key
//! (every sealed message, token and the export itself unreadable for good),
//! `export -o bridge.db --force` the live database, and `backup DIR/bridge`
//! its key file's neighbour `bridge.key`, the live key.

use crate::util::*;
use crate::util_cli::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exports_and_backups_refuse_the_bridges_own_files() {
    let env = TestEnv::new("cli_own_files");
    let server = env.server_with(NO_LIMITS).await;
    let conv = Conv::create(&server).await;
    server.stop().await;
    let key = env.key_file();
    let key_bytes = std::fs::read(&key).expect("key");
    let listed = cli(&env, &["list"]).await.ok();
    assert!(listed.contains(&conv.id), "{listed}");

    let mut targets = vec![(key.clone(), "the key file")];
    targets.push((
        env.beside_db("operator.passphrase"),
        "the operator passphrase",
    ));
    // The same entry spelt through `..`, which the check resolves.
    let dotted = key
        .parent()
        .unwrap()
        .join("..")
        .join(key.parent().unwrap().file_name().unwrap());
    targets.push((dotted.join("bridge.key"), "the key file"));
    if env.pg_url().is_none() {
        targets.push((env.db.clone(), "the database"));
        let wal = format!("{}-wal", env.db.display());
        targets.push((wal.into(), "the database's journal"));
    }
    for (target, what) in &targets {
        let path = target.to_str().expect("utf-8");
        let why = cli(&env, &["export", "-o", path, "--force"])
            .await
            .fails(1, "write it elsewhere");
        assert!(why.contains(what), "{why}");
    }
    // The key file as a symlink to where it really lives: its target is as
    // much the key (found by review).
    let vault = env.dir.join("vault");
    std::fs::create_dir_all(&vault).unwrap();
    let real_key = vault.join("real.key");
    std::fs::rename(&key, &real_key).unwrap();
    std::os::unix::fs::symlink(&real_key, &key).unwrap();
    let why = cli(
        &env,
        &["export", "-o", real_key.to_str().unwrap(), "--force"],
    )
    .await
    .fails(1, "write it elsewhere");
    assert!(why.contains("the key file"), "{why}");
    // `backup X` writes `X.key` too: X beside the database as `bridge`
    // would put the backup's key over the live one.
    let beside = key.with_file_name("bridge");
    let why = cli(&env, &["backup", beside.to_str().unwrap(), "--force"])
        .await
        .fails(1, "write it elsewhere");
    assert!(why.contains("the key file"), "{why}");
    assert!(!beside.exists(), "nothing written");

    assert_eq!(
        std::fs::read(&real_key).expect("key"),
        key_bytes,
        "key intact"
    );
    let listed = cli(&env, &["list"]).await.ok();
    assert!(listed.contains(&conv.id), "{listed}");
    // The control: elsewhere, the same commands write.
    let out = env.dir.join("elsewhere.json");
    cli(&env, &["export", "-o", out.to_str().unwrap(), "--force"])
        .await
        .ok();
    assert!(out.exists());
}
