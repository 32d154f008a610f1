//! Helpers for the web console tests: a real `mcp-bridge console` process,
//! console tokens made with the CLI, and a cookie-keeping HTTP client that
//! signs in through the real form.

use std::process::Stdio;

use reqwest::StatusCode;
use reqwest::header::{COOKIE, SET_COOKIE};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::util::*;

/// A running `mcp-bridge console`.
pub struct ConsoleProc {
    /// `http://127.0.0.1:PORT` (no trailing slash).
    pub base: String,
    child: tokio::process::Child,
}

impl ConsoleProc {
    /// Starts a console on `env`'s database, on a free loopback port.
    pub async fn start(env: &TestEnv) -> ConsoleProc {
        Self::start_with(env, &[]).await
    }

    /// As [`ConsoleProc::start`], with extra arguments.
    pub async fn start_with(env: &TestEnv, extra: &[&str]) -> ConsoleProc {
        Self::start_with_vars(env, extra, &[]).await
    }

    /// As [`ConsoleProc::start_with`], with `vars` in its environment.
    pub async fn start_with_vars(
        env: &TestEnv,
        extra: &[&str],
        vars: &[(&str, &str)],
    ) -> ConsoleProc {
        let mut cmd = env.bridge();
        cmd.envs(vars.iter().copied());
        cmd.arg("console").arg("--db").arg(&env.db);
        if !extra.contains(&"--listen") {
            cmd.args(["--listen", "127.0.0.1:0"]);
        }
        cmd.args(extra);
        let mut cmd = tokio::process::Command::from(cmd);
        cmd.stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true);
        let mut child = cmd.spawn().expect("spawn mcp-bridge console");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut lines = BufReader::new(stdout).lines();
        let line = tokio::time::timeout(EVENT_TIMEOUT, lines.next_line())
            .await
            .expect("the console announces its address")
            .expect("read the console's stdout")
            .expect("the console printed its address");
        let base = line
            .strip_prefix("Console: ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .trim_end_matches('/')
            .to_owned();
        ConsoleProc { base, child }
    }
}

impl ConsoleProc {
    /// Sends `signal` to the console.
    pub fn signal(&self, signal: i32) {
        let pid = self.child.id().expect("console still running");
        // SAFETY: kill(2) on our own child's pid has no memory effects.
        unsafe { libc::kill(i32::try_from(pid).unwrap(), signal) };
    }

    /// Whether the console process has exited.
    pub fn exited(&mut self) -> bool {
        self.child
            .try_wait()
            .expect("wait for the console")
            .is_some()
    }

    /// Sends SIGTERM and waits for the console to exit; returns its exit code.
    pub async fn terminate(mut self) -> Option<i32> {
        let pid = self.child.id().expect("console still running");
        // SAFETY: kill(2) on our own child's pid has no memory effects.
        unsafe { libc::kill(i32::try_from(pid).unwrap(), libc::SIGTERM) };
        let status = tokio::time::timeout(EVENT_TIMEOUT, self.child.wait())
            .await
            .expect("the console exits after SIGTERM")
            .unwrap();
        status.code()
    }
}

/// Creates a console token with the CLI and returns it.
pub fn make_token(env: &TestEnv, name: &str, role: &str) -> String {
    let out = env
        .bridge()
        .args([
            "console", "token", "create", name, "--role", role, "--json", "--db",
        ])
        .arg(&env.db)
        .output()
        .expect("run console token create");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("token JSON");
    v["token"].as_str().expect("token").to_owned()
}

/// Revokes console token `name` with the CLI.
pub fn revoke_token(env: &TestEnv, name: &str) {
    let out = env
        .bridge()
        .args(["console", "token", "revoke", name, "--db"])
        .arg(&env.db)
        .output()
        .expect("run console token revoke");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// An HTTP client that does not follow redirects.
pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("HTTP client")
}

/// The `name=value` of a `Set-Cookie` header named `name`.
pub fn set_cookie(resp: &reqwest::Response, name: &str) -> Option<String> {
    resp.headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(str::to_owned)
}

/// The value of the first `name="csrf" value="…"` in a page.
pub fn csrf_of(html: &str) -> String {
    let at = html
        .find("name=\"csrf\" value=\"")
        .expect("a form with a CSRF token");
    let rest = &html[at + "name=\"csrf\" value=\"".len()..];
    rest[..rest.find('"').expect("end of value")].to_owned()
}

/// A browser-like session: its cookie and CSRF token.
pub struct Browser {
    /// `mcpb_console=…`.
    pub cookie: String,
    /// The session's CSRF token.
    pub csrf: String,
    client: reqwest::Client,
    base: String,
}

impl Browser {
    /// Signs in through the form with `token`.
    pub async fn sign_in(console: &ConsoleProc, token: &str) -> Browser {
        Self::sign_in_via(console, token, "/").await
    }

    /// As [`Browser::sign_in`], reading the page's CSRF token from `csrf_page`.
    pub async fn sign_in_via(console: &ConsoleProc, token: &str, csrf_page: &str) -> Browser {
        let client = http();
        let page = client
            .get(format!("{}/login", console.base))
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), StatusCode::OK);
        let login_cookie = set_cookie(&page, "mcpb_console_login").expect("a sign-in cookie");
        let login_cookie = login_cookie.split(';').next().unwrap().to_owned();
        let form_csrf = csrf_of(&page.text().await.unwrap());
        let resp = client
            .post(format!("{}/login", console.base))
            .header(COOKIE, &login_cookie)
            .form(&[("token", token), ("csrf", &form_csrf)])
            .send()
            .await
            .unwrap();
        assert_eq!(
            resp.status(),
            StatusCode::SEE_OTHER,
            "sign-in redirects home"
        );
        let session = set_cookie(&resp, "mcpb_console").expect("a session cookie");
        assert!(
            session.contains("HttpOnly") && session.contains("SameSite=Strict"),
            "{session}"
        );
        let cookie = session.split(';').next().unwrap().to_owned();
        let home = client
            .get(format!("{}{csrf_page}", console.base))
            .header(COOKIE, &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(home.status(), StatusCode::OK);
        let csrf = csrf_of(&home.text().await.unwrap());
        Browser {
            cookie,
            csrf,
            client,
            base: console.base.clone(),
        }
    }

    /// GET `path` with the session cookie.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.base))
            .header(COOKIE, &self.cookie)
            .send()
            .await
            .unwrap()
    }

    /// POST a form to `path` with the session cookie.
    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
        self.client
            .post(format!("{}{path}", self.base))
            .header(COOKIE, &self.cookie)
            .form(form)
            .send()
            .await
            .unwrap()
    }
}

/// GET `path` with a bearer token.
pub async fn api(console: &ConsoleProc, token: Option<&str>, path: &str) -> reqwest::Response {
    let mut req = http().get(format!("{}{path}", console.base));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    req.send().await.unwrap()
}

/// The headers every console response carries, redirects and refusals
/// included, with their values.
pub const SECURITY_HEADERS: [(&str, &str); 6] = [
    ("content-security-policy", mcp_bridge::console::CSP),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "same-origin"),
    ("x-frame-options", "DENY"),
    ("cross-origin-opener-policy", "same-origin"),
    ("cache-control", "no-store"),
];

/// Asserts that `headers`, of the response to `what`, carry every one of
/// [`SECURITY_HEADERS`].
pub fn assert_secured(what: &str, headers: &reqwest::header::HeaderMap) {
    for (name, value) in SECURITY_HEADERS {
        assert_eq!(
            headers.get(name).and_then(|v| v.to_str().ok()),
            Some(value),
            "{what}: {name} missing or wrong in {headers:?}"
        );
    }
}
