//! The protocol side of one connection: authentication, then both query protocols answered by
//! `datafusion-postgres`'s session service over the live run (see [`super::live`]), behind the
//! read-only hook, with a log line for each failed query.

use std::fmt::Debug;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::logical_expr::LogicalPlan;
use datafusion::sql::sqlparser::ast::Statement;
use datafusion_postgres::hooks::cursor::CursorStatementHook;
use datafusion_postgres::hooks::set_show::SetShowHook;
use datafusion_postgres::hooks::transactions::TransactionStatementHook;
use datafusion_postgres::{DfSessionService, Parser, QueryHook};
use futures::Sink;
use pgwire::api::auth::noop::NoopStartupHandler;
use pgwire::api::auth::sasl::scram::{gen_salted_password, ScramAuth};
use pgwire::api::auth::sasl::SASLAuthStartupHandler;
use pgwire::api::auth::{
    AuthSource, DefaultServerParameterProvider, LoginInfo, Password, StartupHandler,
};
use pgwire::api::portal::{Format, Portal};
use pgwire::api::query::{ExtendedQueryHandler, SimpleQueryHandler};
use pgwire::api::results::{FieldInfo, Response};
use pgwire::api::stmt::{QueryParser, StoredStatement};
use pgwire::api::store::PortalStore;
use pgwire::api::{
    ClientInfo, ClientPortalStore, ErrorHandler, PgWireServerHandlers, Type, METADATA_USER,
};
use pgwire::error::{PgWireError, PgWireResult};
use pgwire::messages::{PgWireBackendMessage, PgWireFrontendMessage};

use super::live::LiveMarts;
use super::readonly::ReadOnlyHook;

/// What a parsed statement is: its text and, unless empty, the statement and its plan.
type DfStatement = (String, Option<(Statement, LogicalPlan)>);

/// Who may connect: the one user, by SCRAM-SHA-256 password; or, on a loopback address with no
/// password set, anyone (like Postgres' `trust`).
#[derive(Debug, Clone)]
pub enum Access {
    Trust,
    Password { user: String, password: String },
}

/// What every connection shares.
pub struct Shared {
    pub live: Arc<LiveMarts>,
    /// The salted password (salted once at start: 4096 PBKDF2 rounds), or None for trust.
    password: Option<Arc<OnePassword>>,
    hooks: Vec<Arc<dyn QueryHook>>,
    /// A parser for the protocol's plan-only questions (parameter and result types).
    types_parser: Arc<Parser>,
}

impl Shared {
    pub fn new(live: Arc<LiveMarts>, access: Access) -> Self {
        let hooks: Vec<Arc<dyn QueryHook>> = vec![
            Arc::new(ReadOnlyHook),
            Arc::new(CursorStatementHook),
            Arc::new(SetShowHook),
            Arc::new(TransactionStatementHook),
        ];
        let empty = Arc::new(datafusion::prelude::SessionContext::new());
        let types_parser = DfSessionService::new_with_hooks(empty, hooks.clone()).query_parser();
        let password = match &access {
            Access::Trust => None,
            Access::Password { user, password } => Some(Arc::new(OnePassword::new(user, password))),
        };
        Shared {
            live,
            password,
            hooks,
            types_parser,
        }
    }

    /// The session of one query: the live run, the query's own memory pool.
    async fn session(&self) -> PgWireResult<Arc<datafusion::prelude::SessionContext>> {
        self.live
            .query_session()
            .await
            .map_err(|e| PgWireError::ApiError(Box::new(e)))
    }

    /// The session service of one query on `session`.
    fn service_on(&self, session: Arc<datafusion::prelude::SessionContext>) -> DfSessionService {
        DfSessionService::new_with_hooks(session, self.hooks.clone())
    }

    /// The session service of one query.
    async fn service(&self) -> PgWireResult<DfSessionService> {
        Ok(self.service_on(self.session().await?))
    }
}

/// The handlers of one connection (the SASL exchange keeps state per connection).
pub struct Connection {
    queries: Arc<LiveQueries>,
    startup: Arc<Startup>,
}

impl Connection {
    pub fn new(shared: Arc<Shared>) -> Self {
        let startup = match &shared.password {
            None => Startup::Trust(TrustStartup),
            Some(source) => {
                let mut parameters = DefaultServerParameterProvider::default();
                parameters.default_transaction_read_only = true;
                parameters.is_superuser = false;
                Startup::Scram(
                    SASLAuthStartupHandler::new(Arc::new(parameters))
                        .with_scram(ScramAuth::new(source.clone())),
                )
            }
        };
        Connection {
            queries: Arc::new(LiveQueries { shared }),
            startup: Arc::new(startup),
        }
    }
}

impl PgWireServerHandlers for Connection {
    fn simple_query_handler(&self) -> Arc<impl SimpleQueryHandler> {
        self.queries.clone()
    }

    fn extended_query_handler(&self) -> Arc<impl ExtendedQueryHandler> {
        self.queries.clone()
    }

    fn startup_handler(&self) -> Arc<impl StartupHandler> {
        self.startup.clone()
    }

    fn error_handler(&self) -> Arc<impl ErrorHandler> {
        Arc::new(LogErrors)
    }
}

/// Both query protocols, each query on the run that is live when it starts.
pub struct LiveQueries {
    shared: Arc<Shared>,
}

#[async_trait]
impl SimpleQueryHandler for LiveQueries {
    async fn do_query<C>(&self, client: &mut C, query: &str) -> PgWireResult<Vec<Response>>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let service = self.shared.service().await?;
        SimpleQueryHandler::do_query(&service, client, query).await
    }
}

#[async_trait]
impl ExtendedQueryHandler for LiveQueries {
    type Statement = DfStatement;
    type QueryParser = LiveParser;

    fn query_parser(&self) -> Arc<LiveParser> {
        Arc::new(LiveParser {
            shared: self.shared.clone(),
        })
    }

    async fn do_query<C>(
        &self,
        client: &mut C,
        portal: &Portal<DfStatement>,
        max_rows: usize,
    ) -> PgWireResult<Response>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = DfStatement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let session = self.shared.session().await?;
        let rebound;
        let portal = match &portal.statement.statement {
            (sql, Some((statement, plan))) => {
                let plan = super::live::rebind(&session, plan)
                    .await
                    .map_err(|e| PgWireError::ApiError(Box::new(e)))?;
                rebound = with_plan(portal, sql, statement, plan);
                &rebound
            }
            (_, None) => portal,
        };
        let service = self.shared.service_on(session);
        ExtendedQueryHandler::do_query(&service, client, portal, max_rows).await
    }
}

/// `portal` with its statement's plan replaced (its parameters and execution state kept).
fn with_plan(
    portal: &Portal<DfStatement>,
    sql: &str,
    statement: &Statement,
    plan: LogicalPlan,
) -> Portal<DfStatement> {
    let mut rebound = Portal::default();
    rebound.name = portal.name.clone();
    rebound.statement = Arc::new(StoredStatement::new(
        portal.statement.id.clone(),
        (sql.to_string(), Some((statement.clone(), plan))),
        portal.statement.parameter_types.clone(),
    ));
    rebound.parameter_format = portal.parameter_format.clone();
    rebound.parameters = portal.parameters.clone();
    rebound.result_column_format = portal.result_column_format.clone();
    rebound.state = portal.state.clone();
    rebound
}

/// Plans a prepared statement against the run that is live when it is parsed.
pub struct LiveParser {
    shared: Arc<Shared>,
}

#[async_trait]
impl QueryParser for LiveParser {
    type Statement = DfStatement;

    async fn parse_sql<C>(
        &self,
        client: &C,
        sql: &str,
        types: &[Option<Type>],
    ) -> PgWireResult<Option<DfStatement>>
    where
        C: ClientInfo + Unpin + Send + Sync,
    {
        let service = self.shared.service().await?;
        service.query_parser().parse_sql(client, sql, types).await
    }

    fn get_parameter_types(&self, statement: &DfStatement) -> PgWireResult<Vec<Type>> {
        self.shared.types_parser.get_parameter_types(statement)
    }

    fn get_result_schema(
        &self,
        statement: &DfStatement,
        format: Option<&Format>,
    ) -> PgWireResult<Vec<FieldInfo>> {
        self.shared
            .types_parser
            .get_result_schema(statement, format)
    }
}

/// The startup of a connection: no password (loopback only) or SCRAM-SHA-256.
pub enum Startup {
    Trust(TrustStartup),
    Scram(SASLAuthStartupHandler<DefaultServerParameterProvider>),
}

#[async_trait]
impl StartupHandler for Startup {
    async fn on_startup<C>(
        &self,
        client: &mut C,
        message: PgWireFrontendMessage,
    ) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        match self {
            Startup::Trust(h) => h.on_startup(client, message).await,
            Startup::Scram(h) => h.on_startup(client, message).await,
        }
    }
}

pub struct TrustStartup;

impl NoopStartupHandler for TrustStartup {}

/// The one user and its password, salted for SCRAM.
#[derive(Debug)]
struct OnePassword {
    user: String,
    salt: Vec<u8>,
    salted: Vec<u8>,
}

impl OnePassword {
    fn new(user: &str, password: &str) -> Self {
        let salt: [u8; 16] = rand_salt();
        OnePassword {
            user: user.to_string(),
            salted: gen_salted_password(
                password,
                &salt,
                pgwire::api::auth::sasl::scram::SCRAM_ITERATIONS,
            ),
            salt: salt.to_vec(),
        }
    }
}

/// A salt from the clock and the process id, hashed: unique per server start.
fn rand_salt() -> [u8; 16] {
    use sha2::Digest;
    let seed = format!("{:?}{}", std::time::SystemTime::now(), std::process::id());
    let digest = sha2::Sha256::digest(seed.as_bytes());
    let mut salt = [0u8; 16];
    salt.copy_from_slice(&digest[..16]);
    salt
}

#[async_trait]
impl AuthSource for OnePassword {
    async fn get_password(&self, login: &LoginInfo) -> PgWireResult<Password> {
        let user = login.user().unwrap_or_default();
        if user != self.user {
            return Err(PgWireError::InvalidPassword(user.to_string()));
        }
        Ok(Password::new(Some(self.salt.clone()), self.salted.clone()))
    }
}

/// A log line for every error sent to a client (failed queries, refused writes, bad logins).
struct LogErrors;

impl ErrorHandler for LogErrors {
    fn on_error<C>(&self, client: &C, error: &mut PgWireError)
    where
        C: ClientInfo,
    {
        let user = client
            .metadata()
            .get(METADATA_USER)
            .cloned()
            .unwrap_or_default();
        super::log(&format!(
            "{} user={user}: error: {error}",
            client.socket_addr()
        ));
    }
}
