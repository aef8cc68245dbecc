//! Users, tokens, service application endpoints, applications and their idle expiry.

use ucwa_core::DynStore;
use ucwa_core::channel::ChannelParams;
use ucwa_core::model::{AppKind, AppStatus, Application, BatchMark, Principal, TokenRecord, User};
use ucwa_core::service::ServiceApp;
use ucwa_core::store::{QuotaUsage, RequestScope, SessionLocation};

use crate::support::*;

fn person(uri: &str, name: &str) -> User {
    User { uri: uri.into(), display_name: name.into(), password_hash: format!("$argon2id$v=19${name}") }
}

pub async fn users_are_added_then_replaced(store: DynStore) {
    let bob = person("sip:bob@example.com", "Bob");
    assert!(store.upsert_user(&bob).await.unwrap(), "new");
    assert!(store.upsert_user(&person("sip:alice@example.com", "Alice")).await.unwrap());
    let renamed = person("sip:alice@example.com", "Alice Cooper");
    assert!(!store.upsert_user(&renamed).await.unwrap(), "replaced, not new");
    assert_eq!(store.find_user("sip:alice@example.com").await.unwrap().as_ref(), Some(&renamed));
    assert_eq!(store.find_user("sip:carol@example.com").await.unwrap(), None);
    assert_eq!(store.list_users().await.unwrap(), [renamed, bob], "by URI");
}

fn endpoint(uri: &str, key: &str, callback_url: Option<&str>) -> ServiceApp {
    ServiceApp {
        uri: uri.into(),
        display_name: "Help desk".into(),
        secret_hash: "$argon2id$v=19$secret".into(),
        signing_key: key.into(),
        callback_url: callback_url.map(str::to_owned),
        created_ms: T0,
        domains: vec!["fabrikam.com".into(), "contoso.com".into()],
    }
}

pub async fn service_applications_are_added_then_replaced(store: DynStore) {
    let helpdesk = endpoint("sip:helpdesk@example.com", "whsec_one", Some(CALLBACK_URL));
    assert!(store.upsert_service_app(&helpdesk).await.unwrap());
    assert!(store.upsert_service_app(&endpoint("sip:agent@example.com", "whsec_a", None)).await.unwrap());
    let rotated =
        ServiceApp { created_ms: T0 + 1, domains: vec![], ..endpoint("sip:helpdesk@example.com", "whsec_two", None) };
    assert!(!store.upsert_service_app(&rotated).await.unwrap());
    let found = store.find_service_app("sip:helpdesk@example.com").await.unwrap().unwrap();
    assert_eq!((found.signing_key.as_str(), found.callback_url), ("whsec_two", None), "key and URL replaced");
    assert_eq!(found.created_ms, T0, "registration time kept");
    assert_eq!(store.find_service_app("sip:nobody@example.com").await.unwrap(), None);
    let uris: Vec<String> = store.list_service_apps().await.unwrap().into_iter().map(|a| a.uri).collect();
    assert_eq!(uris, ["sip:agent@example.com", "sip:helpdesk@example.com"]);
}

pub async fn tokens_are_found_until_they_expire_then_purged(store: DynStore) {
    let principals = [
        Principal::User { uri: "sip:alice@example.com".into() },
        Principal::Anonymous {
            uri: "sip:guest@anonymous.invalid".into(),
            meeting_uri: "sip:org@example.com;gruu;opaque=app:conf:focus:id:M1".into(),
        },
        Principal::Service { uri: "sip:helpdesk@example.com".into() },
        Principal::PsGuest {
            uri: "sip:g@anonymous.invalid".into(),
            meeting_uri: "sip:org@example.com;gruu;opaque=app:conf:focus:id:M2".into(),
            origins: vec!["https://a.example".into(), "https://b.example".into()],
        },
    ];
    let tokens: Vec<TokenRecord> = principals
        .into_iter()
        .enumerate()
        .map(|(i, principal)| TokenRecord { hash: vec![i as u8; 32], principal, expires_ms: T0 + 1_000 })
        .collect();
    for token in &tokens {
        store.insert_token(token).await.unwrap();
    }
    let short = TokenRecord { hash: vec![9; 32], expires_ms: T0 + 10, ..tokens[0].clone() };
    store.insert_token(&short).await.unwrap();
    for token in &tokens {
        assert_eq!(store.find_token(&token.hash, T0).await.unwrap().as_ref(), Some(token), "round trip");
        assert_eq!(store.find_token(&token.hash, T0 + 1_000).await.unwrap(), None, "expired at its instant");
    }
    assert_eq!(store.find_token(&[7; 32], T0).await.unwrap(), None);
    assert_eq!(store.purge_expired_tokens(T0 + 9).await.unwrap(), 0);
    assert_eq!(store.purge_expired_tokens(T0 + 10).await.unwrap(), 1);
    assert_eq!(store.purge_expired_tokens(T0 + 1_000).await.unwrap(), 4);
    assert_eq!(store.purge_expired_tokens(T0 + DAY).await.unwrap(), 0);
}

/// The token, the application and the session a request names come back together: the
/// application whoever owns it (ownership is the caller's rule), none when it is missing or
/// deleted; the session's location when one is named and exists (whose it is, too, is the
/// caller's rule); nothing at all for a token that is unknown or expired.
pub async fn a_token_is_found_with_the_application_and_session_a_request_names(store: DynStore) {
    let app = application(&*store, "a").await;
    let mut meeting = conference("m1", T0 + DAY, T0);
    store.insert_meeting(&meeting).await.unwrap();
    apply(&*store, &mut meeting, join("s1", "a", ORGANIZER), T0).await;
    let s1 = SessionLocation { session_id: "s1".into(), meeting_id: "m1".into(), app_id: "a".into() };
    let user = TokenRecord {
        hash: vec![1; 32],
        principal: Principal::User { uri: app.owner_uri.clone() },
        expires_ms: T0 + 1_000,
    };
    let stranger = TokenRecord {
        hash: vec![2; 32],
        principal: Principal::Service { uri: "sip:x@example.com".into() },
        ..user.clone()
    };
    let scope = |token: &TokenRecord, application: Option<&Application>, session: Option<&SessionLocation>| {
        Some(RequestScope { token: token.clone(), application: application.cloned(), session: session.cloned() })
    };
    for token in [&user, &stranger] {
        store.insert_token(token).await.unwrap();
        let found = store.find_request_scope(&token.hash, T0, "a", None).await.unwrap();
        assert_eq!(found, scope(token, Some(&app), None), "both, whoever owns the application");
        let found = store.find_request_scope(&token.hash, T0, "missing", None).await.unwrap();
        assert_eq!(found, scope(token, None, None), "the token without an application");
        let found = store.find_request_scope(&token.hash, T0, "a", Some("s1")).await.unwrap();
        assert_eq!(found, scope(token, Some(&app), Some(&s1)), "all three, whoever's the session is");
        let found = store.find_request_scope(&token.hash, T0, "a", Some("nope")).await.unwrap();
        assert_eq!(found, scope(token, Some(&app), None), "no such session");
    }
    assert_eq!(store.find_request_scope(&user.hash, T0 + 1_000, "a", Some("s1")).await.unwrap(), None, "expired");
    assert_eq!(store.find_request_scope(&[7; 32], T0, "a", Some("s1")).await.unwrap(), None, "unknown");
    store.delete_application("a").await.unwrap();
    let found = store.find_request_scope(&user.hash, T0, "a", None).await.unwrap();
    assert_eq!(found, scope(&user, None, None), "deleted");
}

/// Quota usage counts a user's active applications and unfinished meetings only.
pub async fn quota_usage_counts_active_applications_and_unfinished_meetings(store: DynStore) {
    let a = application(&*store, "a").await;
    let owner = a.owner_uri.clone();
    assert_eq!(store.quota_usage(&owner, T0).await.unwrap(), QuotaUsage { applications: 1, meetings: 0 });
    store.delete_application("a").await.unwrap();
    assert_eq!(store.quota_usage(&owner, T0).await.unwrap().applications, 0);
    // Two conferences of ORGANIZER, one expiring (finishing, nobody in it) at T0 + 10.
    store.insert_meeting(&conference("m1", T0 + DAY, T0)).await.unwrap();
    store.insert_meeting(&conference("m2", T0 + 10, T0)).await.unwrap();
    assert_eq!(store.quota_usage(ORGANIZER, T0).await.unwrap().meetings, 2);
    assert_eq!(store.quota_usage(ORGANIZER, T0 + 10).await.unwrap().meetings, 1, "finished ones do not count");
    assert_eq!(store.quota_usage("sip:other@example.com", T0).await.unwrap(), QuotaUsage::default());
}

/// Revoking deletes every token of exactly that principal (kind and URI), nothing else.
pub async fn tokens_of_a_principal_are_revoked(store: DynStore) {
    let alice = Principal::User { uri: "sip:alice@example.com".into() };
    let bot_named_alice = Principal::Service { uri: "sip:alice@example.com".into() };
    let bob = Principal::User { uri: "sip:bob@example.com".into() };
    let owners = [&alice, &alice, &bot_named_alice, &bob];
    for (i, principal) in owners.iter().enumerate() {
        let token = TokenRecord { hash: vec![i as u8; 32], principal: (*principal).clone(), expires_ms: T0 + 1_000 };
        store.insert_token(&token).await.unwrap();
    }
    assert_eq!(store.revoke_tokens(&alice).await.unwrap(), 2);
    assert_eq!(store.find_token(&[0; 32], T0).await.unwrap(), None);
    assert_eq!(store.find_token(&[1; 32], T0).await.unwrap(), None);
    assert!(store.find_token(&[2; 32], T0).await.unwrap().is_some(), "a service principal with the same URI");
    assert!(store.find_token(&[3; 32], T0).await.unwrap().is_some(), "another user");
    assert_eq!(store.revoke_tokens(&alice).await.unwrap(), 0);
    assert_eq!(store.revoke_tokens(&bot_named_alice).await.unwrap(), 1);
}

pub async fn an_endpoint_has_one_active_application_per_kind(store: DynStore) {
    let first = application(&*store, "a1").await;
    assert_eq!(first.status, AppStatus::Active);
    assert_eq!((first.created_ms, first.last_seen_ms, first.available), (T0, T0, false));
    assert_eq!(first.delivered, BatchMark { no: 0, max_seq: 0 });
    assert_eq!(store.application("a1").await.unwrap().as_ref(), Some(&first));
    assert_eq!(store.application("nope").await.unwrap(), None);
    // The same owner and endpoint again: the active application, not a new one.
    let again = ucwa_core::model::NewApplication { id: "a2".into(), ..new_application("a1", AppKind::Ucwa) };
    let params = ucwa_core::channel::ChannelLimits::default().defaults();
    let (existing, created) = store.create_application(&again, params, T0 + 1).await.unwrap();
    assert!(!created);
    assert_eq!(existing, first);
    assert_eq!(store.application("a2").await.unwrap(), None);
    // Another surface for the same URI and endpoint is a separate application.
    let psanon = ucwa_core::model::NewApplication { id: "a3".into(), ..new_application("a1", AppKind::PsAnon) };
    let (third, created) = store.create_application(&psanon, params, T0 + 2).await.unwrap();
    assert!(created);
    assert_eq!((third.id.as_str(), third.kind), ("a3", AppKind::PsAnon));
}

pub async fn availability_channel_activity_and_deletion(store: DynStore) {
    application(&*store, "a1").await;
    application(&*store, "a0").await;
    let owner = "sip:a1@example.com";
    assert!(store.online_applications(owner).await.unwrap().is_empty());
    assert!(store.make_available("a1", vec![event("a1", 1)], T0 + 1).await.unwrap());
    assert!(!store.make_available("a1", vec![event("a1", 2)], T0 + 2).await.unwrap(), "only once");
    assert_eq!(tags(&log(&*store, "a1").await), [1], "the events of the first call only");
    let online: Vec<String> = store.online_applications(owner).await.unwrap().into_iter().map(|a| a.id).collect();
    assert_eq!(online, ["a1"]);
    assert!(store.application("a1").await.unwrap().unwrap().available);

    let params = ChannelParams { timeout_s: 300, low_s: 20, medium_s: 10, priority: 2 };
    store.touch_channel("a1", params, T0 + 5).await.unwrap();
    let touched = store.application("a1").await.unwrap().unwrap();
    assert_eq!((touched.channel, touched.last_seen_ms), (params, T0 + 5));

    assert!(store.delete_application("a1").await.unwrap());
    assert_eq!(store.application("a1").await.unwrap(), None);
    assert!(log(&*store, "a1").await.is_empty(), "its log went with it");
    assert!(store.online_applications(owner).await.unwrap().is_empty());
    assert!(!store.delete_application("a1").await.unwrap());
    assert!(store.application("a0").await.unwrap().is_some());
    // The endpoint may start over.
    application(&*store, "a1").await;
}

pub async fn idle_applications_expire_except_busy_and_service_ones(store: DynStore) {
    application(&*store, "idle").await;
    application(&*store, "parked").await;
    application_of_kind(&*store, "svc", AppKind::Service, T0).await;
    application_of_kind(&*store, "fresh", AppKind::Ucwa, T0 + 10_000).await;
    store.append_events(vec![event("idle", 1), event("svc", 2)], T0).await.unwrap();
    let expired = store.expire_idle_applications(T0 + 5_000, &["parked".to_owned()]).await.unwrap();
    assert_eq!(expired, ["idle"], "a request parked on an application keeps it");
    let idle = store.application("idle").await.unwrap().unwrap();
    assert_eq!(idle.status, AppStatus::Expired);
    assert!(log(&*store, "idle").await.is_empty(), "its log is dropped");
    for active in ["parked", "svc", "fresh"] {
        assert_eq!(store.application(active).await.unwrap().unwrap().status, AppStatus::Active, "{active}");
    }
    // Service applications never expire, however long they are quiet.
    let later = store.expire_idle_applications(T0 + 1_000 * DAY, &[]).await.unwrap();
    assert_eq!(later.len(), 2, "parked and fresh: {later:?}");
    assert_eq!(store.application("svc").await.unwrap().unwrap().status, AppStatus::Active);
    assert_eq!(tags(&log(&*store, "svc").await), [2]);
    assert!(store.expire_idle_applications(T0 + 2_000 * DAY, &[]).await.unwrap().is_empty(), "expired once");
    // An expired application no longer holds its endpoint.
    let (_, created) = store
        .create_application(
            &ucwa_core::model::NewApplication { id: "idle2".into(), ..new_application("idle", AppKind::Ucwa) },
            ucwa_core::channel::ChannelLimits::default().defaults(),
            T0 + DAY,
        )
        .await
        .unwrap();
    assert!(created);
}

pub async fn failed_sign_ins_are_counted_per_key_in_windows(store: DynStore) {
    const WINDOW: i64 = 60_000;
    let count = |key: &'static str, at: i64| {
        let store = store.clone();
        async move { store.signin_failures(key, at).await.unwrap().map(|w| (w.failures, w.until_ms)) }
    };
    for _ in 0..3 {
        store.record_signin_failure("name 10.0.0.1 sip:a@example.com", T0, WINDOW).await.unwrap();
    }
    store.record_signin_failure("name 10.0.0.1 sip:a@example.com", T0 + WINDOW - 1, WINDOW).await.unwrap();
    assert_eq!(count("name 10.0.0.1 sip:a@example.com", T0 + 1_000).await, Some((4, T0 + WINDOW)));
    assert_eq!(count("name 10.0.0.1 sip:b@example.com", T0 + 1_000).await, None, "per key");
    // The window closes a minute after its first failure; the next failure opens a new one.
    assert_eq!(count("name 10.0.0.1 sip:a@example.com", T0 + WINDOW).await, None);
    store.record_signin_failure("name 10.0.0.1 sip:a@example.com", T0 + WINDOW, WINDOW).await.unwrap();
    assert_eq!(count("name 10.0.0.1 sip:a@example.com", T0 + WINDOW + 1).await, Some((1, T0 + 2 * WINDOW)));
    // Closed windows go with the expired tokens.
    store.record_signin_failure("address 10.0.0.2", T0, WINDOW).await.unwrap();
    store.purge_expired_tokens(T0 + WINDOW + 1).await.unwrap();
    assert_eq!(count("name 10.0.0.1 sip:a@example.com", T0 + WINDOW + 1).await.map(|w| w.0), Some(1), "still open");
}
