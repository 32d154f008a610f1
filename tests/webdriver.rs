//! A minimal W3C WebDriver client (over `reqwest`) for driving headless
//! Chromium through `chromedriver`: sessions, navigation, elements, keys,
//! clicks, scripts and screenshots. Just what the console's browser test needs.

use std::time::Duration;

use base64::Engine;
use serde_json::{Value, json};

/// How long the page may take to show what a test waits for. Longer than the
/// suite's usual event timeout: a step may verify the operator passphrase
/// (Argon2id, 64 MiB) while the whole suite loads the machine.
const PAGE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(45);

const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// Where Chromium and its driver are; when they are not installed, the
/// running test skips saying so (fails under `MCP_BRIDGE_TEST_STRICT`).
pub fn installed_or_skip() -> Option<(String, String)> {
    let found = installed();
    if found.is_none() {
        crate::util::skip_or_fail(
            "chromium and chromedriver are not installed (apt-get install chromium chromium-driver)",
        );
    }
    found
}

/// Where Chromium and its driver are, if installed.
fn installed() -> Option<(String, String)> {
    let find = |names: &[&str]| {
        names.iter().find_map(|n| {
            std::env::var_os("PATH").and_then(|path| {
                std::env::split_paths(&path)
                    .map(|d| d.join(n))
                    .find(|p| p.is_file())
                    .map(|p| p.display().to_string())
            })
        })
    };
    Some((
        find(&["chromium", "chromium-browser", "google-chrome"])?,
        find(&["chromedriver"])?,
    ))
}

/// A running chromedriver with one browser session.
pub struct Browser {
    url: String,
    http: reqwest::Client,
    driver: tokio::process::Child,
    /// The driver's and the browser's temporary files (profile, scoped
    /// directories), removed with the browser even when it was killed.
    _tmp: tempfile::TempDir,
}

impl Drop for Browser {
    /// A test that fails before [`Browser::quit`] must not leave Chromium
    /// running: kill the driver's whole process group.
    fn drop(&mut self) {
        if let Some(pid) = self.driver.id().and_then(|p| i32::try_from(p).ok()) {
            // SAFETY: kill(2) on our own child's process group.
            unsafe { libc::kill(-pid, libc::SIGKILL) };
        }
    }
}

/// The port chromedriver says it listens on; what it prints afterwards is
/// read and dropped, so it never blocks on a full pipe.
async fn driver_port(child: &mut tokio::process::Child) -> u16 {
    use tokio::io::AsyncBufReadExt;
    const STARTED: &str = "started successfully on port ";
    let stdout = child.stdout.take().expect("chromedriver's stdout");
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    let port = tokio::time::timeout(PAGE_TIMEOUT, async {
        while let Some(line) = lines.next_line().await.expect("chromedriver's output") {
            if let Some((_, rest)) = line.split_once(STARTED) {
                return rest.trim_end_matches('.').parse::<u16>().ok();
            }
        }
        None
    })
    .await
    .expect("chromedriver named its port in time")
    .expect("chromedriver named its port");
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    port
}

impl Browser {
    /// Starts chromedriver and a headless Chromium (`binary`).
    pub async fn start(binary: &str, driver: &str) -> Browser {
        let tmp = tempfile::Builder::new()
            .prefix("mcp-bridge-browser-")
            .tempdir()
            .expect("a temporary directory for the browser");
        // Port 0: the driver binds a free port itself and names it, so no
        // other process can take it between our choice and its bind.
        let mut child = tokio::process::Command::new(driver)
            .arg("--port=0")
            .env("TMPDIR", tmp.path())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            // Its own process group, which the browser it starts inherits,
            // so a failing test can kill both (see `Drop`).
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .expect("spawn chromedriver");
        let port = driver_port(&mut child).await;
        let http = reqwest::Client::new();
        let base = format!("http://127.0.0.1:{port}");
        // Wait for the driver to answer its status endpoint.
        tokio::time::timeout(PAGE_TIMEOUT, async {
            loop {
                if let Ok(r) = http.get(format!("{base}/status")).send().await
                    && let Ok(v) = r.json::<Value>().await
                    && v["value"]["ready"] == true
                {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
        .await
        .expect("chromedriver became ready");
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": binary,
                // The last five keep it off the network it may not reach.
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,860", "--hide-scrollbars",
                         "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-quic"]
            }
        }}});
        let resp: Value = http
            .post(format!("{base}/session"))
            .json(&caps)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let id = resp["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {resp}"))
            .to_owned();
        Browser {
            url: format!("{base}/session/{id}"),
            http,
            driver: child,
            _tmp: tmp,
        }
    }

    async fn cmd(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut req = self.http.request(method, format!("{}{path}", self.url));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let v: Value = req
            .send()
            .await
            .expect("webdriver request")
            .json()
            .await
            .expect("webdriver JSON");
        v["value"].clone()
    }

    /// Opens `url`.
    pub async fn goto(&self, url: &str) {
        self.cmd(reqwest::Method::POST, "/url", Some(json!({"url": url})))
            .await;
    }

    /// The element matching `css` now, if any.
    pub async fn find_now(&self, css: &str) -> Option<String> {
        let v = self
            .cmd(
                reqwest::Method::POST,
                "/element",
                Some(json!({"using": "css selector", "value": css})),
            )
            .await;
        v[ELEMENT_KEY].as_str().map(str::to_owned)
    }

    /// Waits for an element matching `css`.
    pub async fn find(&self, css: &str) -> String {
        tokio::time::timeout(PAGE_TIMEOUT, async {
            loop {
                if let Some(e) = self.find_now(css).await {
                    return e;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
        .await
        .unwrap_or_else(|_| panic!("no element {css} appeared within {PAGE_TIMEOUT:?}"))
    }

    /// The visible text of `element`.
    pub async fn text(&self, element: &str) -> String {
        self.cmd(
            reqwest::Method::GET,
            &format!("/element/{element}/text"),
            None,
        )
        .await
        .as_str()
        .unwrap_or("")
        .to_owned()
    }

    /// Waits until the element matching `css` has text satisfying `want`; returns it.
    pub async fn wait_text(&self, css: &str, want: impl Fn(&str) -> bool) -> String {
        tokio::time::timeout(PAGE_TIMEOUT, async {
            loop {
                if let Some(e) = self.find_now(css).await {
                    let t = self.text(&e).await;
                    if want(&t) {
                        return t;
                    }
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
        .await
        .unwrap_or_else(|_| panic!("{css} did not show the expected text within {PAGE_TIMEOUT:?}"))
    }

    /// Types `text` into the element matching `css`.
    pub async fn type_into(&self, css: &str, text: &str) {
        let e = self.find(css).await;
        self.cmd(
            reqwest::Method::POST,
            &format!("/element/{e}/value"),
            Some(json!({"text": text})),
        )
        .await;
    }

    /// Clicks the element matching `css`.
    pub async fn click(&self, css: &str) {
        let e = self.find(css).await;
        self.cmd(
            reqwest::Method::POST,
            &format!("/element/{e}/click"),
            Some(json!({})),
        )
        .await;
    }

    /// Runs `script` in the page (WebDriver scripts are not subject to the page's CSP).
    pub async fn script(&self, script: &str) -> Value {
        self.cmd(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({"script": script, "args": []})),
        )
        .await
    }

    /// The text of an open alert dialog, if one is open.
    pub async fn alert(&self) -> Option<String> {
        let v = self.cmd(reqwest::Method::GET, "/alert/text", None).await;
        v.as_str().map(str::to_owned)
    }

    /// Removes every cookie (signs out).
    pub async fn clear_cookies(&self) {
        self.cmd(reqwest::Method::DELETE, "/cookie", None).await;
    }

    /// Saves a PNG screenshot of the page to `path`.
    pub async fn screenshot(&self, path: &std::path::Path) {
        let v = self.cmd(reqwest::Method::GET, "/screenshot", None).await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(v.as_str().expect("screenshot data"))
            .expect("base64 PNG");
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).expect("screenshot directory");
        }
        std::fs::write(path, png).expect("write screenshot");
    }

    /// Ends the browser session.
    pub async fn quit(self) {
        let _ = self.http.delete(&self.url).send().await;
    }
}
