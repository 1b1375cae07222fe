//! `/api/nodes`: the nodes running against this database, from the heartbeats maintenance
//! records every tick.

use std::time::Duration;

use actix_web::{get, web, HttpResponse};
use chrono::Utc;

use super::error::ApiError;
use super::AppState;
use crate::store::node::{self, Node};

/// A node is alive while its last heartbeat is at most this many maintenance ticks old...
const ALIVE_TICKS: u32 = 3;
/// ...and never less than this, so a slow tick on a busy node does not flap it.
const MIN_ALIVE_WITHIN: Duration = Duration::from_secs(5);
/// Nodes silent for longer are left out.
const FORGET_AFTER: Duration = Duration::from_secs(24 * 3600);

/// Registers the routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(list);
}

/// Nodes seen in the last 24 hours, by name; `alive` when seen within three maintenance ticks
/// (at least 5 s).
#[utoipa::path(
    operation_id = "nodes_list",
    tag = "nodes",
    responses((status = 200, description = "nodes", body = Vec<Node>))
)]
#[get("/api/nodes")]
pub async fn list(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let tick = state.config.maintenance.interval;
    let alive_within = tick.saturating_mul(ALIVE_TICKS).max(MIN_ALIVE_WITHIN);
    let nodes = node::list(&state.db, Utc::now(), alive_within, FORGET_AFTER).await?;
    Ok(HttpResponse::Ok().json(nodes))
}
