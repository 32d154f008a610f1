//! Servers on the database's own host reach PostgreSQL through its Unix
//! socket, named as libpq names it: the socket's directory, percent-encoded,
//! as the URL's host. Every connection (the pool's and the `LISTEN` one)
//! goes through the socket, and a long-poll is woken across servers as over
//! TCP. (Measured in the README: more sends per second than loopback TCP.)

use crate::pg_cluster::assert_long_poll_woken_across;
use crate::util::TestEnv;
use crate::util_pg;

const APP: &str = "pg_socket_test";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn servers_reach_postgres_through_its_unix_socket() {
    let Some(database) = util_pg::fresh_db("pg_socket") else {
        return;
    };
    let (base, db) = database.url.rsplit_once('/').expect("a database URL");
    let (_, port) = base.rsplit_once(':').expect("a port");
    let dirs = util_pg::sql(&database.url, "SHOW unix_socket_directories");
    let dir = dirs.split(',').next().expect("a socket directory").trim();
    let host: String = dir
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'.' | b'_' | b'-' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect();
    let url = format!("postgres://postgres@{host}:{port}/{db}?application_name={APP}");
    let env = TestEnv::postgres_at("pg_socket", &url);
    let (one, two) = (env.server().await, env.server().await);
    assert_long_poll_woken_across(&one, &two, "through the socket").await;
    // The servers' connections, and none of them over TCP. (At least one
    // each: a pool may hold fewer connections than it has used, and a
    // busy machine once showed 2 where 4 were expected.)
    let seen = util_pg::sql(
        &database.url,
        &format!(
            "SELECT count(*) FILTER (WHERE client_addr IS NULL), count(*) FILTER (WHERE client_addr IS NOT NULL)
             FROM pg_stat_activity WHERE application_name = '{APP}'"
        ),
    );
    let (socket, tcp) = seen.split_once('|').expect("two counts");
    assert!(socket.parse::<i64>().expect("count") >= 2, "{seen}");
    assert_eq!(tcp, "0", "{seen}");
    one.stop().await;
    two.stop().await;
}
