//! A project opened for work: its config and models, its warehouse, and how its engine is
//! resourced. Every front end starts here: the CLI builds one from flags, `serve` and the tests
//! from a folder; each then asks it for an [`Engine`], a session, a load or a run.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use datafusion::prelude::SessionContext;

use crate::config::Project;
use crate::engine::{engine_kind, Engine, EngineOptions};
use crate::error::{Error, Result};
use crate::load::LoadReport;
use crate::observe::Observer;
use crate::run::Runner;
use crate::udf::channel::{ChannelRules, ChannelRulesConfig};
use crate::warehouse::Warehouse;

/// What the caller sets over `config/sources.yaml` (the CLI's flags and environment).
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// The warehouse location, instead of `warehouse:`.
    pub warehouse: Option<String>,
    /// `local` or `ballista`, instead of `engine.kind`.
    pub engine: Option<String>,
    /// `df://HOST:PORT`, instead of `engine.scheduler`.
    pub scheduler: Option<String>,
    /// Bytes of memory before the engine spills.
    pub memory_limit: Option<usize>,
    pub spill_dir: Option<PathBuf>,
    /// Hash every input file, even one listed as it was when loaded (see
    /// [`crate::load::seen`]).
    pub rehash: bool,
}

pub struct Workspace {
    pub project: Project,
    pub warehouse: Warehouse,
    pub engine: EngineOptions,
    /// See [`Overrides::rehash`].
    pub rehash: bool,
}

impl Workspace {
    /// Opens the project in `dir` (and its warehouse: a local one is created).
    pub fn open(dir: &Path, overrides: &Overrides) -> Result<Self> {
        let mut project = Project::open(dir)?;
        if let Some(w) = &overrides.warehouse {
            project.sources.warehouse = w.clone();
        }
        let warehouse = Warehouse::open(&project.warehouse_url())?;
        let configured = &project.sources.engine;
        let kind = engine_kind(
            overrides.engine.as_deref().or(configured.kind.as_deref()),
            (overrides.scheduler.as_deref()).or(configured.scheduler.as_deref()),
        )?;
        let engine = EngineOptions {
            memory_limit: overrides.memory_limit,
            spill_dir: overrides.spill_dir.clone(),
            target_partitions: None,
            kind,
        };
        Ok(Workspace {
            project,
            warehouse,
            engine,
            rehash: overrides.rehash,
        })
    }

    /// The engine that builds this project's sessions, with its channel rules compiled.
    pub fn engine(&self) -> Result<Engine> {
        let cfg: ChannelRulesConfig = self.project.settings("channel_rules.yaml")?;
        let rules = ChannelRules::compile(&cfg)
            .map_err(|e| Error::config("config/channel_rules.yaml", e))?;
        Ok(Engine {
            warehouse: self.warehouse.clone(),
            options: self.engine.clone(),
            rules: Arc::new(rules),
        })
    }

    /// A session for running models, on the configured engine.
    pub async fn session(&self) -> Result<SessionContext> {
        self.engine()?.session().await
    }

    /// A session in this process, whatever the configured engine (for reading results).
    pub fn local_session(&self) -> Result<SessionContext> {
        self.engine()?.local_session()
    }

    /// The loaded tables, settings and published marts by name (see [`Engine::query_session`]).
    pub async fn query_session(&self) -> Result<SessionContext> {
        self.engine()?.query_session(&self.project).await
    }

    /// Loads every configured source (see [`crate::load::load`]), the allocator keeping freed
    /// memory for the next file meanwhile ([`crate::engine::allocator`]).
    pub async fn load(&self, observer: &dyn Observer) -> Result<LoadReport> {
        let _keep = crate::engine::allocator::PurgeDelay::never();
        crate::load::load(&self.project, &self.warehouse, observer, self.rehash).await
    }

    /// A runner of the models on `session` (from [`Workspace::session`]), reporting to
    /// `observer`.
    pub fn runner<'a>(&'a self, session: SessionContext, observer: &'a dyn Observer) -> Runner<'a> {
        Runner {
            project: &self.project,
            warehouse: &self.warehouse,
            ctx: session,
            observer,
            jobs: crate::run::default_jobs(self.engine.memory_limit),
        }
    }
}
