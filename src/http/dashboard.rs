//! The dashboard: one page at `/` with its stylesheet and script, built into the binary.
//!
//! The files hold no data: the script asks for a bearer token, keeps it in the tab's
//! `sessionStorage` and reads the API with it, so these three paths are open (see
//! [`super::auth::OPEN_PATHS`]). The page draws pools, queue depth, throughput, failed and
//! dead-letter jobs (with retry and cancel), schedules, nodes and alerts, and reads them again
//! every five seconds.

use actix_web::http::header;
use actix_web::{get, web, HttpResponse};

/// The dashboard's paths, served without a token.
pub const PATHS: [&str; 3] = ["/", "/dashboard.css", "/dashboard.js"];

const PAGE: &str = include_str!("dashboard/index.html");
const STYLE: &str = include_str!("dashboard/dashboard.css");
const SCRIPT: &str = include_str!("dashboard/dashboard.js");

// Everything comes from this origin; the script writes no inline code, and sets styles only
// through the CSSOM, which `style-src 'self'` allows.
const POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; \
    frame-ancestors 'none'";

/// Registers the routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(page).service(style).service(script);
}

fn file(content_type: &'static str, body: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((header::CONTENT_SECURITY_POLICY, POLICY))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .body(body)
}

/// The page.
#[get("/")]
async fn page() -> HttpResponse {
    file("text/html; charset=utf-8", PAGE)
}

/// Its stylesheet.
#[get("/dashboard.css")]
async fn style() -> HttpResponse {
    file("text/css; charset=utf-8", STYLE)
}

/// Its script.
#[get("/dashboard.js")]
async fn script() -> HttpResponse {
    file("text/javascript; charset=utf-8", SCRIPT)
}
