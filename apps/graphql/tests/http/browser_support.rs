//! A real headless Chromium driven over WebDriver (Debian's `chromium` and
//! `chromium-driver`, installed by `scripts/services`): each browser has its own
//! chromedriver on a free loopback port, its own profile and its own download folder.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

use super::support::free_port;

pub struct Browser {
    pub client: Client,
    driver: Child,
    folder: PathBuf,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        let _ = std::fs::remove_dir_all(&self.folder);
    }
}

impl Browser {
    pub async fn start() -> Self {
        let port = free_port();
        let folder = std::env::temp_dir().join(format!("bazaar-browser-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(folder.join("downloads")).unwrap();
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("chromedriver (installed by scripts/services): {e}"));
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        // The closed network here refuses Chromium's own background requests: turn them off.
        let options = json!({
            "binary": "/usr/bin/chromium",
            "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-quic", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--window-size=1280,1000",
                format!("--user-data-dir={}", folder.join("profile").display()),
            ],
            "prefs": {
                "download.default_directory": folder.join("downloads").display().to_string(),
                "download.prompt_for_download": false,
            },
        });
        let mut capabilities = serde_json::Map::new();
        capabilities.insert("goog:chromeOptions".to_owned(), options);
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = ClientBuilder::new(connector)
            .capabilities(capabilities)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .unwrap();
        Self {
            client,
            driver,
            folder,
        }
    }

    pub async fn goto(&self, url: &str) {
        self.client.goto(url).await.unwrap();
    }

    pub async fn text(&self, css: &str) -> String {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no {css}: {e}"))
            .text()
            .await
            .unwrap()
    }

    pub async fn attr(&self, css: &str, name: &str) -> String {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no {css}: {e}"))
            .attr(name)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("{css} has no {name}"))
    }

    /// Every element's attribute, in page order.
    pub async fn attrs(&self, css: &str, name: &str) -> Vec<String> {
        let mut found = Vec::new();
        for element in self.client.find_all(Locator::Css(css)).await.unwrap() {
            found.push(element.attr(name).await.unwrap().unwrap_or_default());
        }
        found
    }

    pub async fn fill(&self, css: &str, value: &str) {
        let field = self.client.find(Locator::Css(css)).await.unwrap();
        field.clear().await.unwrap();
        field.send_keys(value).await.unwrap();
    }

    pub async fn select(&self, css: &str, value: &str) {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap()
            .select_by_value(value)
            .await
            .unwrap();
    }

    /// Clicks what starts a download: the page stays.
    pub async fn click_download(&self, css: &str) {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no {css}: {e}"))
            .click()
            .await
            .unwrap();
    }

    /// Clicks a link or a form's button and waits until the next page has loaded.
    pub async fn click(&self, css: &str) {
        let old = self.client.find(Locator::Css("html")).await.unwrap();
        self.click_download(css).await;
        let deadline = Instant::now() + Duration::from_secs(20);
        // The old page's root goes stale once the browser has left it.
        while old.attr("lang").await.is_ok() {
            assert!(
                Instant::now() < deadline,
                "clicking {css} did not leave the page"
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        loop {
            let state = self
                .client
                .execute("return document.readyState", vec![])
                .await;
            if state.is_ok_and(|s| s == "complete") {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the page after {css} did not load"
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// The current page's path.
    pub async fn path(&self) -> String {
        self.client.current_url().await.unwrap().path().to_owned()
    }

    /// The whole page's visible text.
    pub async fn page_text(&self) -> String {
        self.text("body").await
    }

    /// Signs in through the sign-in form.
    pub async fn sign_in(&self, base: &str, email: &str, password: &str) {
        self.goto(&format!("{base}/sign-in")).await;
        self.fill("#email", email).await;
        self.fill("#password", password).await;
        self.click("form[action='/sign-in'] button").await;
    }

    /// The one file that appears in the download folder, once complete.
    pub async fn downloaded(&self) -> (String, String) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let files: Vec<PathBuf> = std::fs::read_dir(self.folder.join("downloads"))
                .unwrap()
                .map(|entry| entry.unwrap().path())
                .filter(|path| path.extension().is_some_and(|e| e != "crdownload"))
                // Chromium writes a download to a hidden temporary file first.
                .filter(|path| {
                    path.file_name()
                        .is_some_and(|n| !n.to_string_lossy().starts_with('.'))
                })
                .collect();
            if let [file] = files.as_slice() {
                let name = file.file_name().unwrap().to_string_lossy().into_owned();
                let text = std::fs::read_to_string(file).unwrap();
                // The folder is left empty for the next download.
                std::fs::remove_file(file).unwrap();
                return (name, text);
            }
            assert!(Instant::now() < deadline, "no download arrived");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Saves a PNG of the page as `name.png` in `BAZAAR_SCREENSHOTS`, when it is set.
    pub async fn screenshot(&self, name: &str) {
        if let Some(folder) = std::env::var_os("BAZAAR_SCREENSHOTS") {
            // The whole page, then the window as it was.
            let height = self
                .client
                .execute("return document.documentElement.scrollHeight", vec![])
                .await
                .unwrap()
                .as_u64()
                .unwrap();
            let height = u32::try_from(height).unwrap().clamp(600, 4_000);
            self.client
                .set_window_size(1280, height + 140)
                .await
                .unwrap();
            let png = self.client.screenshot().await.unwrap();
            std::fs::write(PathBuf::from(folder).join(format!("{name}.png")), png).unwrap();
            self.client.set_window_size(1280, 1000).await.unwrap();
        }
    }
}
