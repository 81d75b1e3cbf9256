//! The OpenAPI 3 description of every route, generated from the handlers'
//! annotations so it cannot drift from the code silently.

use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::routes::{admin, bulk_tasks, docs, flags, probes, tasks};

#[derive(OpenApi)]
#[openapi(
    info(title = "OpsBox task API", description = "Tasks stored in Postgres, runs executed by workers through a Redis queue."),
    paths(
        probes::health, probes::ready, probes::metrics, docs::openapi, flags::get_flags,
        tasks::create_task, tasks::list_tasks, tasks::get_task, tasks::update_task, tasks::delete_task, tasks::run_task,
        bulk_tasks::create_tasks,
        admin::faults::get_faults, admin::faults::set_faults, admin::faults::clear_faults,
        admin::queue::queue_depth, admin::queue::dead_letters, admin::queue::requeue_dead_letters,
        admin::census::task_census,
    ),
    components(schemas(opsbox_common::model::Task, opsbox_common::model::TaskKind, opsbox_common::model::TaskStatus)),
    modifiers(&AdminToken),
    tags((name = "tasks"), (name = "probes"), (name = "admin", description = "Only when OPSBOX_ADMIN_TOKEN is set")),
)]
pub struct ApiDoc;

struct AdminToken;

impl Modify for AdminToken {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "admin_token",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        components.add_security_scheme(
            "admin_header",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("X-OpsBox-Admin-Token"))),
        );
    }
}
