//! The router is the path table: every route of `ucwa_proto::paths::ROUTES` is served under
//! each prefix of its surfaces (an unauthenticated request gets the 401 challenge, not the
//! 404 of a path nobody serves), and the methods the table does not list answer 405.

use reqwest::{Method, StatusCode};
use ucwa_proto::paths::{self, Prefix};
use ucwa_testkit::TestServer;

#[tokio::test]
async fn every_route_of_the_path_table_is_served_with_the_methods_it_lists() {
    let server = TestServer::start().await;
    for prefix in Prefix::ALL {
        for route in paths::ROUTES.iter().filter(|r| r.surfaces.includes(prefix)) {
            // Every placeholder filled with an id nobody has.
            let values = vec!["x"; route.template.matches('{').count()];
            let path = format!("{}{}", prefix.as_str(), paths::fill(route.template, &values));
            // Another route of the same prefix may take the same filled path with other
            // methods (`{inv}/cancel` and `{inv}/{action}`): what it serves is allowed too.
            let served: Vec<&str> = paths::ROUTES
                .iter()
                .filter(|r| r.surfaces.includes(prefix))
                .filter(|r| {
                    paths::fill(r.template, &vec!["x"; r.template.matches('{').count()])
                        == path[prefix.as_str().len()..]
                })
                .flat_map(|r| r.methods.iter().copied())
                .collect();
            for method in [Method::GET, Method::POST, Method::PUT, Method::DELETE] {
                let resp = server.send(server.client.request(method.clone(), server.at(&path))).await;
                let expected = if served.contains(&method.as_str()) {
                    StatusCode::UNAUTHORIZED
                } else {
                    StatusCode::METHOD_NOT_ALLOWED
                };
                assert_eq!(resp.status(), expected, "{method} {path}");
            }
        }
    }
}
