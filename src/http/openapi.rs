//! The OpenAPI 3.1 document of the API, at `/api-docs/openapi.json`, and Swagger UI at
//! `/swagger-ui/` (its files are built into the binary; nothing is fetched at build or run
//! time). Both need a token, like every route but `/health`.

use actix_web::web;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_swagger_ui::SwaggerUi;

use super::{
    alerts, audit, health, jobs, metrics, nodes, pools, readings, reports, schedules, stats,
    throughput, users, why,
};

/// Where the document is served.
pub const DOCUMENT_PATH: &str = "/api-docs/openapi.json";

/// The document: every route, its parameters, bodies and answers.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "a1c-jobs",
        description = "The job queue of the A1C Estimator: jobs, readings, reports, monitoring."
    ),
    paths(
        health::health,
        health::ready,
        jobs::create,
        jobs::create_batch,
        jobs::list,
        jobs::show,
        jobs::retry,
        jobs::cancel,
        jobs::requeue_dead_letters,
        why::why,
        stats::all,
        stats::status_summary,
        stats::failed_jobs,
        stats::queue_depth,
        stats::oldest_runnable,
        throughput::per_minute,
        schedules::list,
        nodes::list,
        readings::create,
        readings::import,
        users::estimates,
        users::reports,
        users::notifications,
        reports::show,
        reports::html,
        pools::list,
        pools::pause,
        pools::resume,
        pools::set_concurrency,
        audit::list,
        alerts::list,
        metrics::scrape,
    ),
    modifiers(&BearerAuth),
    security(("bearer" = [])),
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let scheme = HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build();
        components.add_security_scheme("bearer", SecurityScheme::Http(scheme));
    }
}

/// Registers the document and the UI.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(SwaggerUi::new("/swagger-ui/{_:.*}").url(DOCUMENT_PATH, ApiDoc::openapi()));
}
