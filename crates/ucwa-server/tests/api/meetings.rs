//! `myOnlineMeetings` / `myOnlineMeeting` (<https://learn.microsoft.com/en-us/skype-sdk/ucwa/myonlinemeetings_ref>).

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use ucwa_testkit::TestServer;

use crate::join::create_meeting;

#[tokio::test]
async fn create_list_get_update_delete() {
    let server = TestServer::start().await;
    let alice = server.signed_in_app("sip:alice@example.com", "Alice").await;
    let meeting = create_meeting(
        &server,
        &alice,
        json!({"Subject": "Planning", "accessLevel": "Invited", "attendees": ["sip:bob@example.com"], "leaders": ["carol@example.com"], "automaticLeaderAssignment": "SameEnterprise", "lobbyBypassForPhoneUsers": "Enabled"}),
    )
    .await;
    let b = &meeting.body;
    assert_eq!(b["rel"], "myOnlineMeeting");
    assert_eq!(b["subject"], "Planning");
    assert_eq!(b["accessLevel"], "Invited");
    assert_eq!(b["attendees"], json!(["sip:bob@example.com"]));
    assert_eq!(b["leaders"], json!(["sip:carol@example.com"]));
    assert_eq!(b["automaticLeaderAssignment"], "SameEnterprise");
    assert_eq!(b["lobbyBypassForPhoneUsers"], "Enabled");
    assert_eq!(b["organizerUri"], "sip:alice@example.com");
    let id = b["onlineMeetingId"].as_str().unwrap();
    assert_eq!(id.len(), 8);
    assert_eq!(b["onlineMeetingUri"], format!("sip:alice@example.com;gruu;opaque=app:conf:focus:id:{id}"));
    assert_eq!(b["joinUrl"], format!("{}/meet/alice/{id}", server.url));
    // Default expiry: about eight hours from now.
    let expires: i64 =
        b["expirationTime"].as_str().unwrap().trim_start_matches("/Date(").trim_end_matches(")/").parse().unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    assert!((expires - now - 8 * 3600 * 1000).abs() < 60_000);
    assert!(b.as_object().unwrap().values().any(|v| v == "please pass this in a PUT request"));

    let list: Value = server
        .call(Method::GET, &format!("{}/onlineMeetings/myOnlineMeetings", alice.url), &alice.token, None)
        .await
        .json()
        .await
        .unwrap();
    let links = list["_links"]["myOnlineMeeting"].as_array().unwrap();
    assert_eq!(links.len(), 1);
    assert!(meeting.href.ends_with(links[0]["href"].as_str().unwrap()));

    let resp = server.call(Method::GET, &meeting.href, &alice.token, None).await;
    let etag = resp.headers()["etag"].to_str().unwrap().to_owned();
    let current: Value = resp.json().await.unwrap();
    assert_eq!(&current, b);

    // PUT: the whole resource back, with If-Match.
    let mut changed = current.clone();
    changed["subject"] = json!("Planning (moved)");
    changed["accessLevel"] = json!("Locked");
    let put = |body: Value, if_match: Option<&str>| {
        let mut req = server.client.put(server.at(&meeting.href)).bearer_auth(&alice.token).json(&body);
        if let Some(tag) = if_match {
            req = req.header("if-match", tag);
        }
        server.send(req)
    };
    assert_eq!(put(changed.clone(), None).await.status(), StatusCode::PRECONDITION_REQUIRED);
    assert_eq!(put(changed.clone(), Some("\"999\"")).await.status(), StatusCode::PRECONDITION_FAILED);
    let mut unguarded = changed.clone();
    let guard = unguarded
        .as_object()
        .unwrap()
        .iter()
        .find(|(_, v)| *v == "please pass this in a PUT request")
        .unwrap()
        .0
        .clone();
    unguarded.as_object_mut().unwrap().remove(&guard);
    assert_eq!(put(unguarded, Some(&etag)).await.status(), StatusCode::BAD_REQUEST);
    let mut bad = changed.clone();
    bad["accessLevel"] = json!("Nobody");
    bad["expirationTime"] = json!("/Date(1000)/");
    let resp = put(bad, Some(&etag)).await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let err: Value = resp.json().await.unwrap();
    assert!(err["parameters"]["accessLevel"].is_string() && err["parameters"]["expirationTime"].is_string(), "{err}");
    let resp = put(changed, Some(&etag)).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let new_etag = resp.headers()["etag"].to_str().unwrap().to_owned();
    assert_ne!(new_etag, etag);
    let updated: Value = resp.json().await.unwrap();
    assert_eq!(updated["subject"], "Planning (moved)");
    assert_eq!(updated["accessLevel"], "Locked");
    // The old ETag is stale now.
    let mut again = updated.clone();
    again["subject"] = json!("x");
    assert_eq!(put(again, Some(&etag)).await.status(), StatusCode::PRECONDITION_FAILED);

    assert_eq!(server.call(Method::DELETE, &meeting.href, &alice.token, None).await.status(), StatusCode::NO_CONTENT);
    assert_eq!(server.call(Method::GET, &meeting.href, &alice.token, None).await.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn bad_meeting_values_are_named() {
    let server = TestServer::start().await;
    let alice = server.signed_in_app("sip:alice@example.com", "Alice").await;
    let url = format!("{}/onlineMeetings/myOnlineMeetings", alice.url);
    let cases = [
        (json!({"accessLevel": "Public"}), "accessLevel"),
        (json!({"attendees": ["not a uri"]}), "attendees"),
        (json!({"leaders": "sip:bob@example.com"}), "leaders"),
        (json!({"automaticLeaderAssignment": true}), "automaticLeaderAssignment"),
        (json!({"subject": "s".repeat(251)}), "subject"),
        (json!({"expirationTime": "tomorrow"}), "expirationTime"),
        (json!({"expirationTime": "/Date(0)/"}), "expirationTime"),
        (json!({"entryExitAnnouncement": "Loud"}), "entryExitAnnouncement"),
        (json!({"phoneUserAdmission": 1}), "phoneUserAdmission"),
    ];
    for (body, field) in cases {
        let resp = server.call(Method::POST, &url, &alice.token, Some(body.clone())).await;
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{body}");
        let err: Value = resp.json().await.unwrap();
        assert!(err["parameters"][field].is_string(), "{field} not named: {err}");
    }
    let list: Value = server.call(Method::GET, &url, &alice.token, None).await.json().await.unwrap();
    assert_eq!(list["_links"]["myOnlineMeeting"], json!([]), "nothing was created");
}

#[tokio::test]
async fn meetings_belong_to_their_organizer_and_survive_restarts() {
    let server = TestServer::start().await;
    let alice = server.signed_in_app("sip:alice@example.com", "Alice").await;
    let bob = server.signed_in_app("sip:bob@example.com", "Bob").await;
    let meeting = create_meeting(&server, &alice, json!({"subject": "Kept"})).await;
    let id = meeting.body["onlineMeetingId"].as_str().unwrap().to_owned();
    let bobs_view = format!("{}/onlineMeetings/myOnlineMeetings/{id}", bob.url);
    for method in [Method::GET, Method::DELETE] {
        assert_eq!(server.call(method, &bobs_view, &bob.token, None).await.status(), StatusCode::NOT_FOUND);
    }
    let server = server.restart().await;
    let body: Value = server.call(Method::GET, &meeting.href, &alice.token, None).await.json().await.unwrap();
    assert_eq!(body, meeting.body);
}

#[tokio::test]
async fn default_and_eligible_values_describe_what_create_does() {
    let server = TestServer::start().await;
    let alice = server.signed_in_app("sip:alice@example.com", "Alice").await;
    let links = &alice.body["_embedded"]["onlineMeetings"]["_links"];
    let defaults: Value = server
        .call(Method::GET, links["onlineMeetingDefaultValues"]["href"].as_str().unwrap(), &alice.token, None)
        .await
        .json()
        .await
        .unwrap();
    let eligible: Value = server
        .call(Method::GET, links["onlineMeetingEligibleValues"]["href"].as_str().unwrap(), &alice.token, None)
        .await
        .json()
        .await
        .unwrap();
    let meeting = create_meeting(&server, &alice, json!({})).await;
    for (property, list) in
        [("accessLevel", "accessLevels"), ("automaticLeaderAssignment", "automaticLeaderAssignments")]
    {
        assert_eq!(meeting.body[property], defaults[property], "{property}");
        assert!(eligible[list].as_array().unwrap().contains(&defaults[property]), "{list}");
    }
}

/// A meeting whose every save loses to some other writer (here a trigger that skips each
/// update and delete, as a node that always commits first would make them fail) is not
/// retried for ever: after a bounded number of attempts the request gets 503 with
/// `Retry-After`, like an unavailable database, and the meeting is left as it was. Once the
/// other writer is gone, the same requests go through.
#[tokio::test]
async fn a_meeting_that_keeps_changing_is_refused_with_503_and_kept_intact() {
    let server = TestServer::start().await;
    let alice = server.signed_in_app("sip:alice@example.com", "Alice").await;
    let meeting = create_meeting(&server, &alice, json!({"subject": "Contended"})).await;
    let resp = server.call(Method::GET, &meeting.href, &alice.token, None).await;
    let etag = resp.headers()["etag"].to_str().unwrap().to_owned();
    let mut changed: Value = resp.json().await.unwrap();
    changed["subject"] = json!("Contended (moved)");
    let put = || {
        server.send(
            server
                .client
                .put(server.at(&meeting.href))
                .bearer_auth(&alice.token)
                .header("if-match", &etag)
                .json(&changed),
        )
    };

    let (always_loses, stops_losing) = match server.store_kind() {
        ucwa_testkit::StoreKind::Postgres => (
            "CREATE FUNCTION another_writer_wins() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$;
             CREATE TRIGGER another_writer BEFORE UPDATE OR DELETE ON meetings
                 FOR EACH ROW EXECUTE FUNCTION another_writer_wins();",
            "DROP TRIGGER another_writer ON meetings; DROP FUNCTION another_writer_wins();",
        ),
        ucwa_testkit::StoreKind::Sqlite => (
            "CREATE TRIGGER another_writer_updates BEFORE UPDATE ON meetings BEGIN SELECT RAISE(IGNORE); END;
             CREATE TRIGGER another_writer_deletes BEFORE DELETE ON meetings BEGIN SELECT RAISE(IGNORE); END;",
            "DROP TRIGGER another_writer_updates; DROP TRIGGER another_writer_deletes;",
        ),
    };
    server.execute_sql(always_loses).await;
    for resp in [put().await, server.call(Method::DELETE, &meeting.href, &alice.token, None).await] {
        assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(resp.headers()["retry-after"], "1");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["code"], "ServiceUnavailable", "{body}");
    }
    let resp = server.call(Method::GET, &meeting.href, &alice.token, None).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["etag"].to_str().unwrap(), etag, "nothing was saved");
    assert_eq!(resp.json::<Value>().await.unwrap(), meeting.body);

    server.execute_sql(stops_losing).await;
    let resp = put().await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.json::<Value>().await.unwrap()["subject"], "Contended (moved)");
    assert_eq!(server.call(Method::DELETE, &meeting.href, &alice.token, None).await.status(), StatusCode::NO_CONTENT);
    assert_eq!(server.call(Method::GET, &meeting.href, &alice.token, None).await.status(), StatusCode::NOT_FOUND);
}
