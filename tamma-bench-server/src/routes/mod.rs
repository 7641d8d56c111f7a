//! The routes of both doors. Each route is added through a [`RouteTable`], which records
//! its method and path beside the router it builds, so the OpenAPI test can compare the
//! routes that exist with the routes documented.

pub(crate) mod agent_configs;
pub(crate) mod benchmarks;
pub(crate) mod events;
pub(crate) mod graphql;
pub(crate) mod health;
pub(crate) mod internal;
pub(crate) mod jobs;
pub(crate) mod metrics;
pub(crate) mod report;
pub(crate) mod runs;

use crate::auth::Door;
use crate::state::AppState;
use axum::Router;
use axum::handler::Handler;
use axum::http::Method;
use axum::routing::{MethodRouter, get, post};

/// The public API's prefix.
pub const PUBLIC_PREFIX: &str = "/api/v1";
/// The internal API's prefix.
pub const INTERNAL_PREFIX: &str = "/internal/v1";

/// A router and the (method, path) of each of its routes.
pub(crate) struct RouteTable {
    prefix: &'static str,
    router: Router<AppState>,
    routes: Vec<(Method, String)>,
}

impl RouteTable {
    fn new(door: Door) -> Self {
        Self {
            prefix: prefix(door),
            router: Router::new(),
            routes: Vec::new(),
        }
    }

    fn add(mut self, method: Method, path: &str, route: MethodRouter<AppState>) -> Self {
        let path = format!("{}{path}", self.prefix);
        self.router = self.router.route(&path, route);
        self.routes.push((method, path));
        self
    }

    fn get<H, T>(self, path: &str, handler: H) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        self.add(Method::GET, path, get(handler))
    }

    fn put<H, T>(self, path: &str, handler: H) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        self.add(Method::PUT, path, axum::routing::put(handler))
    }

    fn post<H, T>(self, path: &str, handler: H) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        self.add(Method::POST, path, post(handler))
    }

    /// The routes, in the order added.
    pub(crate) fn routes(&self) -> &[(Method, String)] {
        &self.routes
    }

    /// The router.
    pub(crate) fn into_router(self) -> Router<AppState> {
        self.router
    }

    fn extend(mut self, other: Self) -> Self {
        self.router = self.router.merge(other.router);
        self.routes.extend(other.routes);
        self
    }
}

/// The prefix of `door`'s routes.
pub fn prefix(door: Door) -> &'static str {
    match door {
        Door::Public => PUBLIC_PREFIX,
        Door::Internal => INTERNAL_PREFIX,
    }
}

/// The routes of `door` that need a token.
pub(crate) fn table(door: Door) -> RouteTable {
    let t = RouteTable::new(door);
    let t = match door {
        Door::Public => t
            .get("/benchmarks", benchmarks::list_benchmarks)
            .post("/benchmarks", benchmarks::create_run)
            .get("/benchmarks/{id}", benchmarks::get_benchmark)
            .get("/benchmarks/{id}/results", benchmarks::benchmark_results)
            .get("/runs/{id}", runs::public_run)
            .get("/runs/{id}/trials", runs::run_trials)
            .post("/graphql", graphql::public_graphql)
            .get("/events", events::public_events),
        Door::Internal => t
            .get("/benchmarks", internal::list_benchmarks)
            .get("/runs/{id}", runs::internal_run)
            .post("/optimizations", internal::start_study)
            .get("/analytics/insights", internal::insights)
            .post("/graphql", graphql::internal_graphql)
            .get("/events", events::internal_events)
            .get("/metrics", metrics::metrics)
            .get("/agent-configs", agent_configs::list)
            .get("/agent-configs/{id}", agent_configs::get)
            .put("/agent-configs/{id}", agent_configs::put),
    };
    // Jobs at both doors: a service follows the studies it started.
    let t = t
        .get("/jobs", jobs::list_jobs)
        .get("/jobs/{id}", jobs::get_job)
        .post("/jobs/{id}/cancel", jobs::cancel_job);
    report::add(t, door)
}

/// The routes of `door` open to everyone: liveness, readiness, the OpenAPI document.
pub(crate) fn open_table(door: Door) -> RouteTable {
    let t = RouteTable::new(door)
        .get("/healthz", health::healthz)
        .get("/readyz", health::readyz);
    match door {
        Door::Public => t.get("/openapi.json", health::public_openapi),
        Door::Internal => t.get("/openapi.json", health::internal_openapi),
    }
}

/// Every route of `door`, open ones first.
pub(crate) fn all(door: Door) -> RouteTable {
    open_table(door).extend(table(door))
}
