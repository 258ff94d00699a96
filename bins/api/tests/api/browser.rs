//! A real browser for the console's tests: Debian's `chromium`, headless, driven through
//! `chromedriver` (both installed by `.ci/run`) with the WebDriver client `fantoccini`.
//!
//! Each test starts its own chromedriver on a free port with its own browser profile, and
//! ends both when done (or when dropped after a failure).

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

/// The first of `candidates` (or `$var`) that exists.
fn program(var: &str, candidates: &[&str]) -> PathBuf {
    if let Ok(path) = std::env::var(var) {
        return PathBuf::from(path);
    }
    candidates.iter().map(PathBuf::from).find(|p| p.exists()).unwrap_or_else(|| {
        panic!(
            "the console's browser tests need {} (Debian: apt-get install chromium chromium-driver; \
             .ci/run installs them), or ${var} naming it",
            candidates.join(" or ")
        )
    })
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").expect("a free port").local_addr().expect("addr").port()
}

/// A headless chromium at 1366×900 (the console's smallest desktop).
pub(crate) struct Browser {
    client: Option<Client>,
    driver: Child,
    profile: tempfile::TempDir,
    shots: PathBuf,
}

impl Browser {
    /// Starts chromedriver and a browser session; screenshots go to
    /// `target/console-screenshots/<name>/`.
    pub(crate) async fn start(name: &str) -> Browser {
        let driver_path = program("BAOMING_CHROMEDRIVER", &["/usr/bin/chromedriver"]);
        let chromium =
            program("BAOMING_CHROMIUM", &["/usr/lib/chromium/chromium", "/usr/bin/chromium"]);
        let port = free_port();
        let driver = Command::new(&driver_path)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let profile = tempfile::tempdir().expect("profile dir");
        let mut browser = Browser { client: None, driver, profile, shots: screenshots_dir(name) };
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not listen on {port}");
            actix_web::rt::time::sleep(Duration::from_millis(50)).await;
        }
        let args = vec![
            "--headless=new".to_owned(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--disable-dev-shm-usage".into(),
            "--disable-background-networking".into(),
            "--disable-extensions".into(),
            "--no-first-run".into(),
            "--lang=zh-CN".into(),
            "--window-size=1366,900".into(),
            format!("--user-data-dir={}", browser.profile.path().display()),
        ];
        let caps = json!({
            "goog:chromeOptions": { "binary": chromium.display().to_string(), "args": args },
        });
        let caps = match caps {
            Value::Object(map) => map,
            _ => unreachable!(),
        };
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = ClientBuilder::new(connector)
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .expect("a browser session");
        browser.client = Some(client);
        browser
    }

    pub(crate) fn client(&self) -> &Client {
        self.client.as_ref().expect("session")
    }

    pub(crate) async fn goto(&self, url: &str) {
        self.client().goto(url).await.unwrap_or_else(|e| panic!("goto {url}: {e}"));
    }

    pub(crate) async fn path(&self) -> String {
        let url = self.client().current_url().await.expect("url");
        match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_owned(),
        }
    }

    pub(crate) async fn find(&self, css: &str) -> Element {
        match self.client().wait().for_element(Locator::Css(css)).await {
            Ok(el) => el,
            Err(e) => panic!("no {css} on {}: {e}", self.path().await),
        }
    }

    pub(crate) async fn text(&self, css: &str) -> String {
        self.find(css).await.text().await.expect("text")
    }

    /// The page's visible text.
    pub(crate) async fn body_text(&self) -> String {
        self.text("body").await
    }

    /// Sets form fields by name (text, date-time, number, textarea, select; a check box is
    /// ticked by any non-empty value), as typing would, without the date pickers' locale games.
    pub(crate) async fn fill(&self, fields: &[(&str, &str)]) {
        let pairs: Vec<Value> = fields.iter().map(|(k, v)| json!([k, v])).collect();
        let missing = self
            .client()
            .execute(
                "const missing = [];
                 for (const [name, value] of arguments[0]) {
                   const el = document.querySelector(`[name=\"${name}\"]`);
                   if (!el) { missing.push(name); continue; }
                   if (el.type === 'checkbox') el.checked = value !== '';
                   else el.value = value;
                   el.dispatchEvent(new Event('change', { bubbles: true }));
                 }
                 return missing;",
                vec![Value::Array(pairs)],
            )
            .await
            .expect("fill");
        assert_eq!(missing, json!([]), "fields missing on {}", self.path().await);
    }

    /// Clicks the element and waits for the page it leads to.
    pub(crate) async fn click(&self, css: &str) {
        let el = self.find(css).await;
        el.click().await.unwrap_or_else(|e| panic!("click {css}: {e}"));
    }

    /// Presses keys one after the other, as a person at the keyboard.
    pub(crate) async fn keys(&self, keys: &str) {
        let mut actions = KeyActions::new("keyboard".into());
        for key in keys.chars() {
            actions =
                actions.then(KeyAction::Down { value: key }).then(KeyAction::Up { value: key });
        }
        self.client().perform_actions(actions).await.expect("keys");
    }

    /// Waits (up to `secs`) until `check` holds for the page's text.
    pub(crate) async fn until_text(&self, css: &str, secs: u64, check: impl Fn(&str) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let text = self.text(css).await;
            if check(&text) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{css} on {} still reads {text:?}",
                self.path().await
            );
            actix_web::rt::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Waits until the browser is on a page whose path starts with `prefix`.
    pub(crate) async fn until_path(&self, prefix: &str) {
        self.until_path_is(|path| path.starts_with(prefix)).await;
    }

    /// Waits until the browser is on a page whose path (and query) passes `check`.
    pub(crate) async fn until_path_is(&self, check: impl Fn(&str) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let path = self.path().await;
            if check(&path) {
                return;
            }
            assert!(Instant::now() < deadline, "still on {path}");
            actix_web::rt::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Writes a screenshot of the whole window as `<name>.png`.
    pub(crate) async fn screenshot(&self, name: &str) -> Vec<u8> {
        let png = self.client().screenshot().await.expect("screenshot");
        std::fs::write(self.shots.join(format!("{name}.png")), &png).expect("screenshot written");
        png
    }

    /// A screenshot of one element.
    pub(crate) async fn element_png(&self, css: &str) -> Vec<u8> {
        self.find(css).await.screenshot().await.expect("element screenshot")
    }

    /// Ends the session and chromedriver.
    pub(crate) async fn finish(mut self) {
        if let Some(client) = self.client.take() {
            let _ = client.close().await;
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        // A browser left behind by a failed test dies with its profile's name.
        let _ = Command::new("pkill")
            .arg("-f")
            .arg(format!("user-data-dir={}", self.profile.path().display()))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

fn screenshots_dir(name: &str) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    let dir = target.join("console-screenshots").join(name);
    std::fs::create_dir_all(&dir).expect("screenshot dir");
    dir
}

/// The text of the QR code in a PNG (a screenshot of the venue display's code).
pub(crate) fn decode_qr(png: &[u8]) -> String {
    let image = image::load_from_memory(png).expect("a PNG").to_luma8();
    let mut prepared = rqrr::PreparedImage::prepare(image);
    let grids = prepared.detect_grids();
    assert_eq!(grids.len(), 1, "one QR code in the image");
    let (_, content) = grids[0].decode().expect("the QR code decodes");
    content
}
