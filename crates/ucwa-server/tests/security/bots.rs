//! What several security tests share: service applications (register, sign in, follow the
//! links) and available users.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use ucwa_testkit::{TestApp, TestServer};

pub const SECRET: &str = "bot-client-secret-0123456789";

/// A signed-in service application.
pub struct Bot {
    pub token: String,
    /// The application resource.
    pub app: Value,
}

/// The href of `rel` in a resource's links or embedded resources' links.
pub fn find_href(resource: &Value, rel: &str) -> Option<String> {
    if let Some(h) = resource["_links"][rel]["href"].as_str() {
        return Some(h.to_owned());
    }
    if let Some(h) = resource["_embedded"][rel]["_links"]["self"]["href"].as_str() {
        return Some(h.to_owned());
    }
    resource["_embedded"].as_object()?.values().find_map(|r| find_href(r, rel))
}

impl Bot {
    /// Registers `uri` (with `--domain`s) and signs it in.
    pub async fn sign_in(server: &TestServer, uri: &str, callback_url: Option<&str>) -> Bot {
        server.add_service_app(uri, "Bot", SECRET, callback_url).await;
        Bot::signed_in(server, uri).await
    }

    /// Signs in an endpoint registered already.
    pub async fn signed_in(server: &TestServer, uri: &str) -> Bot {
        let token = server.service_token(uri, SECRET).await.expect("client credentials");
        let discover = get_ok(server, "/platformservice/discover", &token).await;
        let applications = discover["_links"]["ms:rtc:saas:applications"]["href"].as_str().unwrap().to_owned();
        let listing = get_ok(server, &format!("{applications}?endpointId={uri}"), &token).await;
        let app_href = listing["_links"]["ms:rtc:saas:application"]["href"].as_str().unwrap().to_owned();
        let app = get_ok(server, &app_href, &token).await;
        Bot { token, app }
    }

    pub fn link(&self, rel: &str) -> String {
        find_href(&self.app, rel).unwrap_or_else(|| panic!("no {rel} in {:#}", self.app))
    }

    /// Creates an ad hoc meeting organized by this endpoint.
    pub async fn adhoc_meeting(&self, server: &TestServer) -> Value {
        let (status, meeting) = post(server, &self.link("ms:rtc:saas:adhocMeetings"), &self.token, json!({})).await;
        assert_eq!(status, StatusCode::OK, "{meeting}");
        meeting
    }

    /// Joins the meeting `uri` (`joinOnlineMeeting`) with `body` merged in.
    pub async fn join(&self, server: &TestServer, meeting_uri: &str, mut body: Value) -> (StatusCode, Value) {
        body["onlineMeetingUri"] = json!(meeting_uri);
        if body.get("operationId").is_none() {
            body["operationId"] = json!(format!("op-{}", rand_suffix()));
        }
        let join = self.link("ms:rtc:saas:joinOnlineMeeting");
        let resp = server.call(Method::POST, &join, &self.token, Some(body)).await;
        let status = resp.status();
        let location = resp.headers().get("location").map(|l| l.to_str().unwrap().to_owned());
        let mut answer = resp.json().await.unwrap_or(Value::Null);
        if let Some(location) = location {
            answer = json!({"location": location});
        }
        (status, answer)
    }
}

/// A new user's application, signed in and available (`makeMeAvailable`), so invitations
/// ring there.
pub async fn available(server: &TestServer, uri: &str, name: &str) -> TestApp {
    let app = server.signed_in_app(uri, name).await;
    let href = app.body["_embedded"]["me"]["_links"]["makeMeAvailable"]["href"].as_str().unwrap().to_owned();
    let resp = server.call(Method::POST, &href, &app.token, Some(json!({"SupportedModalities": ["Messaging"]}))).await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    app
}

fn rand_suffix() -> String {
    ucwa_core::credentials::new_id()
}

pub async fn get_ok(server: &TestServer, url: &str, token: &str) -> Value {
    let resp = server.call(Method::GET, url, token, None).await;
    assert_eq!(resp.status(), StatusCode::OK, "GET {url}");
    resp.json().await.unwrap()
}

pub async fn post(server: &TestServer, url: &str, token: &str, body: Value) -> (StatusCode, Value) {
    let resp = server.call(Method::POST, url, token, Some(body)).await;
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}
