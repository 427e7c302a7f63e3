//! The marts the server answers from follow `_published.json`: each query first compares the
//! pointer with the one its session was built from, and a new run gets a new session. Queries
//! already running keep the session (and so the files) they started on: a publish never tears a
//! read. Each query runs in its own memory pool, so one heavy dashboard query gets an error
//! instead of taking the server down.

use std::sync::Arc;

use std::collections::HashMap;

use bytes::Bytes;
use datafusion::common::tree_node::{Transformed, TreeNodeRecursion};
use datafusion::common::{Result as DfResult, TableReference};
use datafusion::datasource::provider_as_source;
use datafusion::execution::memory_pool::FairSpillPool;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::execution::session_state::SessionStateBuilder;
use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::SessionContext;
use datafusion_postgres::datafusion_pg_catalog::pg_catalog::{
    context::EmptyContextProvider, setup_pg_catalog,
};
use tokio::sync::Mutex;

use crate::config::Project;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::run::publish::{Published, POINTER};

/// The catalog clients see (`current_database()`); any database name connects.
pub const CATALOG: &str = "datafusion";

/// The session of the live run, rebuilt when the pointer changes.
pub struct LiveMarts {
    engine: Engine,
    project: Project,
    /// Bytes a query may use before its spillable operators spill and the rest fail.
    query_memory: usize,
    current: Mutex<Option<Live>>,
}

struct Live {
    pointer: Option<Bytes>,
    session: Arc<SessionContext>,
}

impl LiveMarts {
    pub fn new(engine: Engine, project: Project, query_memory: usize) -> Self {
        LiveMarts {
            engine,
            project,
            query_memory,
            current: Mutex::new(None),
        }
    }

    /// Builds the live run's session now, so that a broken warehouse fails at start.
    pub async fn warm(&self) -> Result<()> {
        self.live().await.map(|_| ())
    }

    /// A session for one query: the live run's tables, in a memory pool of its own.
    pub async fn query_session(&self) -> Result<Arc<SessionContext>> {
        let base = self.live().await?;
        let runtime = RuntimeEnvBuilder::from_runtime_env(base.runtime_env().as_ref())
            .with_memory_pool(Arc::new(FairSpillPool::new(self.query_memory)))
            .build_arc()?;
        let state = SessionStateBuilder::new_from_existing(base.state())
            .with_runtime_env(runtime)
            .build();
        Ok(Arc::new(SessionContext::new_with_state(state)))
    }

    /// The live run's session, rebuilt first when the pointer changed since it was built.
    async fn live(&self) -> Result<Arc<SessionContext>> {
        let pointer = self.engine.warehouse.get(POINTER).await?;
        let mut current = self.current.lock().await;
        if let Some(live) = current.as_ref().filter(|l| l.pointer == pointer) {
            return Ok(live.session.clone());
        }
        let published = match &pointer {
            Some(bytes) => parse(&self.engine, bytes)?,
            None => None,
        };
        let session = self
            .engine
            .published_session(&self.project, published.as_ref())
            .await?;
        setup_pg_catalog(&session, CATALOG, EmptyContextProvider)
            .map_err(|e| Error::DataFusion(*e))?;
        let run = published.as_ref().map_or("none yet", |p| p.run_id.as_str());
        super::log(&format!("serving run {run}"));
        let session = Arc::new(session);
        *current = Some(Live {
            pointer,
            session: session.clone(),
        });
        Ok(session)
    }
}

fn parse(engine: &Engine, bytes: &[u8]) -> Result<Option<Published>> {
    serde_json::from_slice(bytes).map(Some).map_err(|e| {
        Error::warehouse(
            engine.warehouse.url_of(POINTER),
            format!("corrupt pointer: {e}"),
        )
    })
}

/// A prepared statement's plan with every table it scans looked up again in `session`: a
/// statement prepared before a publish reads the new run when executed after it (like Postgres
/// re-planning a prepared statement whose tables changed).
pub async fn rebind(session: &SessionContext, plan: &LogicalPlan) -> DfResult<LogicalPlan> {
    let mut names: Vec<TableReference> = Vec::new();
    plan.apply_with_subqueries(|node| {
        if let LogicalPlan::TableScan(scan) = node {
            names.push(scan.table_name.clone());
        }
        Ok(TreeNodeRecursion::Continue)
    })?;
    let mut providers = HashMap::new();
    for name in names {
        let provider = session.table_provider(name.clone()).await?;
        providers.insert(name, provider_as_source(provider));
    }
    let rebound = plan
        .clone()
        .transform_up_with_subqueries(|node| match node {
            LogicalPlan::TableScan(mut scan) => {
                scan.source = providers[&scan.table_name].clone();
                Ok(Transformed::yes(LogicalPlan::TableScan(scan)))
            }
            other => Ok(Transformed::no(other)),
        })?;
    Ok(rebound.data)
}
