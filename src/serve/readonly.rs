//! The endpoint is read-only: a statement is let through only when it reads. Everything else
//! (INSERT, UPDATE, DELETE, CREATE, DROP, COPY, `SELECT … INTO`, `SET datafusion.*`, …) is
//! refused with SQLSTATE 25006 (`read_only_sql_transaction`) and the connection stays open.
//! An allow list, not a deny list: a statement kind nobody thought of is refused.

use async_trait::async_trait;
use datafusion::common::ParamValues;
use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::SessionContext;
use datafusion::sql::sqlparser::ast::{Query, Set, SetExpr, Statement};
use datafusion_postgres::hooks::HookClient;
use datafusion_postgres::QueryHook;
use pgwire::api::results::{Response, Tag};
use pgwire::api::ClientInfo;
use pgwire::error::{ErrorInfo, PgWireError, PgWireResult};

/// SQLSTATE of a write refused on a read-only endpoint.
pub const READ_ONLY_SQLSTATE: &str = "25006";

/// What the endpoint does with a statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// It only reads: DataFusion (or the protocol crate's hooks) answers it.
    Read,
    /// `DISCARD ALL` and `DEALLOCATE`: nothing to discard per query, answered with their tag.
    Acknowledge(&'static str),
    /// Refused, with the reason the client sees.
    Refuse(String),
}

/// Decides whether `statement` may run on the read-only endpoint.
pub fn verdict(statement: &Statement) -> Verdict {
    match statement {
        Statement::Query(q) if query_writes(q) => refuse("SELECT … INTO creates a table"),
        Statement::Query(_)
        | Statement::ShowVariable { .. }
        | Statement::ShowVariables { .. }
        | Statement::ShowStatus { .. }
        | Statement::ShowTables { .. }
        | Statement::ShowColumns { .. }
        | Statement::ShowCatalogs { .. }
        | Statement::ShowSchemas { .. }
        | Statement::ShowFunctions { .. }
        | Statement::StartTransaction { .. }
        | Statement::Commit { .. }
        | Statement::Rollback { .. }
        | Statement::Declare { .. }
        | Statement::Fetch { .. }
        | Statement::Close { .. }
        | Statement::Prepare { .. }
        | Statement::Execute { .. } => Verdict::Read,
        Statement::Explain { statement, .. } => match verdict(statement) {
            Verdict::Read => Verdict::Read,
            _ => refuse("EXPLAIN of a statement that writes"),
        },
        Statement::Set(set) => set_verdict(set),
        Statement::Discard { .. } => Verdict::Acknowledge("DISCARD ALL"),
        Statement::Deallocate { .. } => Verdict::Acknowledge("DEALLOCATE"),
        other => refuse(&statement_kind(other)),
    }
}

/// `SET` of what a client session sets (DateStyle, search_path, statement_timeout, time zone,
/// names) is let through; the engine's own settings (`datafusion.*`) would change how every
/// client's queries run, and are refused.
fn set_verdict(set: &Set) -> Verdict {
    match set {
        Set::SingleAssignment { variable, .. } => {
            let name = variable.to_string().to_ascii_lowercase();
            if name.starts_with("datafusion.") {
                refuse(&format!("SET {name} (an engine setting)"))
            } else {
                Verdict::Read
            }
        }
        Set::SetTimeZone { .. } | Set::SetNames { .. } | Set::SetNamesDefault {} => Verdict::Read,
        Set::SetTransaction { .. } => Verdict::Read,
        _ => refuse("this SET"),
    }
}

/// True when a query creates or changes data: `SELECT … INTO`, or a data-modifying CTE.
fn query_writes(query: &Query) -> bool {
    let ctes = query
        .with
        .as_ref()
        .is_some_and(|w| w.cte_tables.iter().any(|c| query_writes(&c.query)));
    ctes || set_expr_writes(&query.body)
}

fn set_expr_writes(body: &SetExpr) -> bool {
    match body {
        SetExpr::Select(select) => select.into.is_some(),
        SetExpr::Query(q) => query_writes(q),
        SetExpr::SetOperation { left, right, .. } => {
            set_expr_writes(left) || set_expr_writes(right)
        }
        SetExpr::Values(_) | SetExpr::Table(_) => false,
        _ => true,
    }
}

/// The statement's leading keywords, for the message ("DROP TABLE", "INSERT", …).
fn statement_kind(statement: &Statement) -> String {
    let text = statement.to_string();
    let words: Vec<&str> = text.split_whitespace().take(2).collect();
    match words.as_slice() {
        [first, second] if second.chars().all(|c| c.is_ascii_uppercase()) => {
            format!("{first} {second}")
        }
        [first, ..] => first.to_string(),
        [] => "this statement".to_string(),
    }
}

fn refuse(what: &str) -> Verdict {
    Verdict::Refuse(format!(
        "cannot execute {what}: this Clearsight endpoint is read-only (the marts change only by \
         `clearsight build`)"
    ))
}

/// The error a refused statement gets.
pub fn refusal(message: String) -> PgWireError {
    PgWireError::UserError(Box::new(ErrorInfo::new(
        "ERROR".to_string(),
        READ_ONLY_SQLSTATE.to_string(),
        message,
    )))
}

/// Runs before the protocol crate's own hooks, in both query protocols.
pub struct ReadOnlyHook;

impl ReadOnlyHook {
    fn answer(statement: &Statement) -> Option<PgWireResult<Response>> {
        match verdict(statement) {
            Verdict::Read => None,
            Verdict::Acknowledge(tag) => Some(Ok(Response::Execution(Tag::new(tag)))),
            Verdict::Refuse(message) => Some(Err(refusal(message))),
        }
    }
}

#[async_trait]
impl QueryHook for ReadOnlyHook {
    async fn handle_simple_query(
        &self,
        statement: &Statement,
        _session: &SessionContext,
        _client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        Self::answer(statement)
    }

    async fn handle_extended_parse_query(
        &self,
        statement: &Statement,
        _session: &SessionContext,
        _client: &(dyn ClientInfo + Send + Sync),
    ) -> Option<PgWireResult<LogicalPlan>> {
        match verdict(statement) {
            Verdict::Refuse(message) => Some(Err(refusal(message))),
            // An empty plan stands for the acknowledged statement; answered at execute.
            Verdict::Acknowledge(_) => Some(Ok(LogicalPlan::EmptyRelation(
                datafusion::logical_expr::EmptyRelation {
                    produce_one_row: false,
                    schema: std::sync::Arc::new(datafusion::common::DFSchema::empty()),
                },
            ))),
            Verdict::Read => None,
        }
    }

    async fn handle_extended_query(
        &self,
        statement: &Statement,
        _plan: &LogicalPlan,
        _params: &ParamValues,
        _session: &SessionContext,
        _client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        Self::answer(statement)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
    use datafusion::sql::sqlparser::parser::Parser;

    fn of(sql: &str) -> Verdict {
        let statements = Parser::parse_sql(&PostgreSqlDialect {}, sql).unwrap();
        verdict(&statements[0])
    }

    fn refused(sql: &str) -> bool {
        matches!(of(sql), Verdict::Refuse(_))
    }

    #[test]
    fn reads_pass() {
        for sql in [
            "SELECT sum(spend) FROM pipeline_metrics",
            "WITH m AS (SELECT * FROM pipeline_metrics) SELECT count(*) FROM m",
            "SELECT 1 UNION ALL SELECT 2",
            "SHOW search_path",
            "SET DateStyle = 'ISO'",
            "SET TIME ZONE 'UTC'",
            "SET extra_float_digits = 3",
            "BEGIN",
            "COMMIT",
            "EXPLAIN SELECT 1",
        ] {
            assert_eq!(of(sql), Verdict::Read, "{sql}");
        }
    }

    #[test]
    fn writes_are_refused() {
        for sql in [
            "DROP TABLE pipeline_metrics",
            "INSERT INTO pipeline_metrics VALUES (1)",
            "UPDATE pipeline_metrics SET spend = 0",
            "DELETE FROM pipeline_metrics",
            "CREATE TABLE t AS SELECT 1",
            "CREATE VIEW v AS SELECT 1",
            "COPY pipeline_metrics TO '/tmp/x.csv'",
            "SELECT * INTO copy_of_it FROM pipeline_metrics",
            "SET datafusion.execution.target_partitions = 1",
            "SET datafusion.runtime.memory_limit = '100G'",
            "EXPLAIN ANALYZE INSERT INTO t VALUES (1)",
            "WITH gone AS (DELETE FROM t RETURNING *) SELECT * FROM gone",
        ] {
            assert!(refused(sql), "{sql} should be refused, got {:?}", of(sql));
        }
    }

    #[test]
    fn refusal_names_the_statement() {
        let Verdict::Refuse(message) = of("DROP TABLE pipeline_metrics") else {
            panic!("not refused")
        };
        assert!(
            message.starts_with("cannot execute DROP TABLE:"),
            "{message}"
        );
        assert!(message.contains("read-only"), "{message}");
    }

    #[test]
    fn discard_all_is_acknowledged() {
        assert_eq!(of("DISCARD ALL"), Verdict::Acknowledge("DISCARD ALL"));
    }
}
