//! Sets up a fresh gateway for the benchmark through its own admin API: new root password, one channel
//! pointing at the mock upstream, and unlimited tokens.

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

pub struct Admin {
    client: reqwest::Client,
    base: String,
    cookie: String,
}

impl Admin {
    /// Waits for the gateway to answer, signs in as the default root and replaces the password.
    pub async fn sign_in(base: &str) -> Result<Admin> {
        let client = reqwest::Client::builder().no_proxy().build()?;
        for _ in 0..200 {
            if client.get(format!("{base}/api/status")).send().await.is_ok_and(|r| r.status().is_success()) {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        let resp = client
            .post(format!("{base}/api/user/login"))
            .json(&json!({"username": "root", "password": "123456"}))
            .send()
            .await
            .context("gateway does not answer")?;
        let cookie = resp
            .headers()
            .get("set-cookie")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .context("login set no cookie")?
            .to_string();
        let admin = Admin { client, base: base.to_string(), cookie };
        admin
            .call("PUT", "/api/user/self", json!({"original_password": "123456", "password": "bench-password-1"}))
            .await?;
        Ok(admin)
    }

    async fn call(&self, method: &str, path: &str, body: Value) -> Result<Value> {
        let resp = self
            .client
            .request(method.parse()?, format!("{}{path}", self.base))
            .header("cookie", &self.cookie)
            .json(&body)
            .send()
            .await?;
        let status = resp.status();
        let v: Value = resp.json().await?;
        if !status.is_success() {
            bail!("{method} {path}: {status} {v}");
        }
        Ok(v["data"].clone())
    }

    pub async fn channel(&self, base_url: &str, models: &str) -> Result<()> {
        self.call(
            "POST",
            "/api/channel/",
            json!({"name": "bench", "type": 1, "key": "sk-bench", "base_url": base_url, "models": models}),
        )
        .await?;
        Ok(())
    }

    /// A personal access token of root, for the admin API and the gRPC admin service.
    pub async fn personal_token(&self) -> Result<String> {
        let resp =
            self.client.get(format!("{}/api/user/token", self.base)).header("cookie", &self.cookie).send().await?;
        let v: Value = resp.json().await?;
        Ok(v["data"].as_str().context("no personal access token in the answer")?.to_string())
    }

    /// An unlimited token; returns `(id, key)`.
    pub async fn token(&self, name: &str) -> Result<(i64, String)> {
        let t = self.call("POST", "/api/token/", json!({"name": name, "unlimited_quota": true})).await?;
        Ok((t["id"].as_i64().context("token id")?, t["key"].as_str().context("token key")?.to_string()))
    }

    /// Id of the newest log row (ids grow by one per row), 0 when there is none.
    pub async fn newest_log_id(&self) -> Result<i64> {
        let resp = self
            .client
            .get(format!("{}/api/log/?p=1&page_size=1", self.base))
            .header("cookie", &self.cookie)
            .send()
            .await?;
        let v: Value = resp.json().await?;
        Ok(v["data"][0]["id"].as_i64().unwrap_or(0))
    }
}
