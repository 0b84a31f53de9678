//! What the browser tests share: Chromium through chromedriver (WebDriver, fantoccini), exact
//! viewports, screenshots at phone and desktop width under `target/screenshots/`, and axe-core
//! (WCAG 2.1 A and AA rules and axe's best practices) on every page.
//!
//! Needs the Debian packages `chromium` and `chromium-driver`, and axe-core from npm
//! (`npm ci --prefix tests/browser`). Without them a test is skipped locally and fails in CI.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use axum::http::Method;
use fantoccini::wd::{Capabilities, WebDriverCompatibleCommand};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

use gatehouse_testkit::http::{free_port, is_listening};

pub(crate) const INSTALL: &str =
    "chromium and chromedriver (apt-get install -y chromium chromium-driver)";
pub(crate) const INSTALL_AXE: &str = "axe-core (npm ci --prefix tests/browser)";

/// axe-core's script, read once at the start of the test.
pub(crate) static AXE: std::sync::OnceLock<String> = std::sync::OnceLock::new();

pub(crate) fn axe_source() -> Option<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/browser/node_modules/axe-core/axe.min.js");
    std::fs::read_to_string(path).ok()
}

/// Viewports the screenshots are taken at: a phone (CSS pixels of a common 6.1" phone) and a
/// desktop window.
pub(crate) const PHONE: Viewport = Viewport {
    name: "phone",
    width: 390,
    height: 844,
    mobile: true,
};
pub(crate) const DESKTOP: Viewport = Viewport {
    name: "desktop",
    width: 1280,
    height: 800,
    mobile: false,
};

#[derive(Debug, Clone, Copy)]
pub(crate) struct Viewport {
    name: &'static str,
    width: u32,
    height: u32,
    mobile: bool,
}

/// `name` on the `PATH`, if it is there and executable.
pub(crate) fn which(name: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt as _;
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(name))
        .find(|p| {
            p.metadata()
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

/// The chromedriver process of this test, killed on drop.
pub(crate) struct Chromedriver {
    child: Child,
    pub(crate) port: u16,
    log: PathBuf,
}

impl Chromedriver {
    pub(crate) fn start(binary: &Path, dir: &Path) -> Self {
        let port = free_port();
        let log = dir.join("chromedriver.log");
        let child = Command::new(binary)
            .arg(format!("--port={port}"))
            .arg(format!("--log-path={}", log.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", binary.display()));
        let driver = Self { child, port, log };
        let deadline = Instant::now() + Duration::from_secs(20);
        while !is_listening(port) {
            assert!(
                Instant::now() < deadline,
                "chromedriver did not listen on {port} within 20 s:\n{}",
                driver.logs()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        driver
    }

    pub(crate) fn logs(&self) -> String {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        // The last lines are the ones that explain a failure.
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }
}

impl Drop for Chromedriver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Chromedriver's own command for the DevTools protocol: sets exact viewports.
#[derive(Debug)]
struct Cdp {
    cmd: &'static str,
    params: Value,
}

impl WebDriverCompatibleCommand for Cdp {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/goog/cdp/execute",
            session_id.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _: &url::Url) -> (Method, Option<String>) {
        let body = json!({ "cmd": self.cmd, "params": self.params });
        (Method::POST, Some(body.to_string()))
    }
}

/// A headless Chromium session (English, 1280×800) through a chromedriver of its own, with its
/// profile in `dir`. Keep the driver alive while the session is used.
pub(crate) async fn chromium_session(
    chromedriver: &Path,
    chromium: &Path,
    dir: &Path,
) -> (Chromedriver, Client) {
    let profile = dir;
    let driver = Chromedriver::start(chromedriver, profile);
    let mut capabilities = Capabilities::new();
    capabilities.insert("browserName".into(), json!("chrome"));
    capabilities.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": chromium,
            "args": [
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-dev-shm-usage",
                "--hide-scrollbars",
                "--lang=en-US",
                "--window-size=1280,800",
                format!("--user-data-dir={}", profile.join("chromium").display()),
            ],
        }),
    );
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    let browser = ClientBuilder::new(connector)
        .capabilities(capabilities)
        .connect(&format!("http://127.0.0.1:{}", driver.port))
        .await
        .unwrap_or_else(|e| panic!("starting a Chromium session: {e}\n{}", driver.logs()));
    (driver, browser)
}

/// Where screenshots go: `target/screenshots/` of this workspace (or of `CARGO_TARGET_DIR`).
pub(crate) fn screenshot_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"),
        PathBuf::from,
    );
    let dir = target.join("screenshots");
    std::fs::create_dir_all(&dir).expect("creating target/screenshots");
    dir
}

async fn set_viewport(browser: &Client, viewport: Viewport) {
    browser
        .issue_cmd(Cdp {
            cmd: "Emulation.setDeviceMetricsOverride",
            params: json!({
                "width": viewport.width,
                "height": viewport.height,
                "deviceScaleFactor": 1,
                "mobile": viewport.mobile,
            }),
        })
        .await
        .expect("setting the viewport");
}

/// Screenshots of the current page at each viewport, as `<page>-<viewport>.png`, plus
/// `<page>-<viewport>-full.png` of the whole page when it is taller than the viewport; the
/// browser is left at (about) the desktop viewport.
pub(crate) async fn screenshots(browser: &Client, page: &str) {
    assert_accessible(browser, page).await;
    let dir = screenshot_dir();
    for viewport in [PHONE, DESKTOP] {
        set_viewport(browser, viewport).await;
        let width = browser
            .execute("return document.documentElement.clientWidth", vec![])
            .await
            .expect("reading the layout width");
        assert_eq!(
            width,
            json!(viewport.width),
            "{page} at {} width",
            viewport.name
        );
        let overflow = browser
            .execute(
                "return document.documentElement.scrollWidth > document.documentElement.clientWidth",
                vec![],
            )
            .await
            .expect("reading the scroll width");
        assert_eq!(
            overflow,
            json!(false),
            "the {page} page scrolls sideways at {} width",
            viewport.name
        );
        save_screenshot(browser, &dir.join(format!("{page}-{}.png", viewport.name))).await;
        // What lies below the fold, too: the whole page at the same width.
        let height = browser
            .execute("return document.documentElement.scrollHeight", vec![])
            .await
            .expect("reading the page height")
            .as_u64()
            .and_then(|h| u32::try_from(h).ok())
            .unwrap_or(viewport.height);
        if height > viewport.height {
            set_viewport(browser, Viewport { height, ..viewport }).await;
            save_screenshot(
                browser,
                &dir.join(format!("{page}-{}-full.png", viewport.name)),
            )
            .await;
        }
    }
}

async fn save_screenshot(browser: &Client, path: &Path) {
    let png = browser.screenshot().await.expect("taking a screenshot");
    assert!(png.starts_with(b"\x89PNG"), "a PNG screenshot");
    std::fs::write(path, png).expect("writing the screenshot");
}

pub(crate) async fn wait_for(browser: &Client, css: &str) -> fantoccini::elements::Element {
    match browser
        .wait()
        .at_most(Duration::from_secs(15))
        .for_element(Locator::Css(css))
        .await
    {
        Ok(element) => element,
        Err(e) => {
            let url = browser.current_url().await.map(|u| u.to_string());
            let source = browser.source().await.unwrap_or_default();
            panic!("{css} did not appear: {e}; the browser is at {url:?}:\n{source}")
        }
    }
}

/// Runs axe-core on the page as it stands and fails on any violation, naming the rule, its
/// impact and the elements. The script is injected through WebDriver, which the page's CSP does
/// not govern; the page itself still runs no script.
pub(crate) async fn assert_accessible(browser: &Client, page: &str) {
    let axe = AXE
        .get()
        .expect("axe-core is loaded at the start of the test");
    browser
        .execute(axe, vec![])
        .await
        .expect("injecting axe-core");
    let result = browser
        .execute_async(
            r#"const done = arguments[arguments.length - 1];
            axe.run(document, {
                runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"] }
            }).then(
                (r) => done({
                    passes: r.passes.length,
                    violations: r.violations.map((v) => ({
                        id: v.id, impact: v.impact, help: v.help,
                        nodes: v.nodes.map((n) => n.target.join(" ")),
                    })),
                }),
                (e) => done({ error: String(e) }),
            );"#,
            vec![],
        )
        .await
        .expect("running axe-core");
    assert!(
        result["passes"].as_u64().is_some_and(|n| n > 0),
        "axe-core checked nothing on the {page} page: {result}"
    );
    assert_eq!(
        result["violations"],
        json!([]),
        "the {page} page has accessibility violations (axe-core): {result:#}"
    );
}
