//! The OpenAPI 3.1 documents, generated from the handlers' annotations (`utoipa`): the
//! public API's, and the internal API's. Every operation that needs a token also lists
//! the answers every such route can give (401, 403, 429, 503), added here once.

use crate::error::ErrorBody;
use crate::routes;
use utoipa::openapi::path::Operation;
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{ContentBuilder, OpenApi as Document, Ref};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(title = "tamma-bench public API", version = "1",
         description = "Benchmarks of LLM agents: runs, results, trials and jobs, as the caller's tenant may see them."),
    paths(
        routes::health::healthz,
        routes::health::readyz,
        routes::health::public_openapi,
        routes::benchmarks::list_benchmarks,
        routes::benchmarks::create_run,
        routes::benchmarks::get_benchmark,
        routes::benchmarks::benchmark_results,
        routes::runs::public_run,
        routes::runs::run_trials,
        routes::jobs::list_jobs,
        routes::jobs::get_job,
        routes::jobs::cancel_job,
        routes::graphql::public_graphql,
        routes::report::public_report,
        routes::report::public_compare,
        routes::events::public_events,
    ),
    components(schemas(ErrorBody)),
    modifiers(&Common),
)]
struct PublicApi;

#[derive(OpenApi)]
#[openapi(
    info(title = "tamma-bench internal API", version = "1",
         description = "The platform's services: full results, studies and insights. Service tokens only."),
    paths(
        routes::health::internal_openapi,
        routes::internal::list_benchmarks,
        routes::runs::internal_run,
        routes::internal::start_study,
        routes::internal::insights,
        routes::graphql::internal_graphql,
        routes::report::internal_report,
        routes::report::internal_compare,
        routes::events::internal_events,
        routes::metrics::metrics,
        routes::agent_configs::list,
        routes::agent_configs::get,
        routes::agent_configs::put,
    ),
    components(schemas(ErrorBody)),
    modifiers(&Common),
)]
struct InternalApi;

/// The public API's document.
pub fn public_document() -> Document {
    PublicApi::openapi()
}

/// The routes both doors serve alike, documented once at the public prefix.
const SHARED: [&str; 5] = ["healthz", "readyz", "jobs", "jobs/{id}", "jobs/{id}/cancel"];

/// The internal API's document: its own routes, and those it shares with the public API
/// at its prefix (jobs with the service scheme).
pub fn internal_document() -> Document {
    let mut doc = InternalApi::openapi();
    let public = PublicApi::openapi();
    for name in SHARED {
        let from = format!("{}/{name}", routes::PUBLIC_PREFIX);
        if let Some(item) = public.paths.paths.get(&from) {
            let to = format!("{}/{name}", routes::INTERNAL_PREFIX);
            let mut item = item.clone();
            for op in [&mut item.get, &mut item.post].into_iter().flatten() {
                if op.security.as_ref().is_some_and(|s| !s.is_empty()) {
                    op.security = Some(vec![utoipa::openapi::security::SecurityRequirement::new(
                        "service",
                        Vec::<String>::new(),
                    )]);
                }
            }
            doc.paths.paths.insert(to, item);
        }
    }
    doc
}

/// The security schemes, and the answers every authenticated operation can give.
struct Common;

impl Modify for Common {
    fn modify(&self, doc: &mut Document) {
        let components = doc.components.get_or_insert_with(Default::default);
        let bearer = || {
            SecurityScheme::Http(
                Http::builder()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            )
        };
        components.add_security_scheme("bearer", bearer());
        components.add_security_scheme("service", bearer());
        for item in doc.paths.paths.values_mut() {
            for op in [
                &mut item.get,
                &mut item.post,
                &mut item.put,
                &mut item.delete,
                &mut item.patch,
            ]
            .into_iter()
            .flatten()
            {
                if op.security.as_ref().is_some_and(|s| !s.is_empty()) {
                    add_common_errors(op);
                }
            }
        }
    }
}

fn add_common_errors(op: &mut Operation) {
    let error = |description: &str| {
        ResponseBuilder::new()
            .description(description)
            .content(
                "application/json",
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("ErrorBody")))
                    .build(),
            )
            .build()
    };
    for (status, description) in [
        ("401", "No valid token (with `WWW-Authenticate: Bearer`)"),
        (
            "403",
            "A valid token that is not accepted here (the other door's, or unusable claims), or an action not permitted",
        ),
        (
            "413",
            "The request body is larger than the configured limit",
        ),
        (
            "429",
            "The tenant's request limit (or submission limit) is reached: `Retry-After` says when to retry",
        ),
        (
            "503",
            "The database or the audit log did not answer, or the request took too long",
        ),
        ("500", "A fault of the service (details in its log only)"),
    ] {
        if !op.responses.responses.contains_key(status) {
            op.responses
                .responses
                .insert(status.to_owned(), error(description).into());
        }
    }
}
