//! Column lineage from DataFusion's logical plans (`clearsight lineage`): for each output
//! column of a model, the columns it is computed from and, separately, the columns that only
//! filter, join, group or order it — which a SQL-text parser cannot see. Upstream models are
//! followed to the loaded and settings tables; every model column on the way is kept too, so
//! lineage can be read downstream.

use std::collections::{BTreeMap, BTreeSet};

use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::common::Column;
use datafusion::logical_expr::{Expr, LogicalPlan};
use datafusion::prelude::SessionContext;

use super::model::Model;
use crate::error::Result;

/// A column of a table: (table, column).
pub type Source = (String, String);

/// Where one output column comes from.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ColumnLineage {
    /// Columns whose values the column is computed from.
    pub computed_from: BTreeSet<Source>,
    /// Columns that decide which rows (filters, join keys, group and window keys).
    pub filtered_by: BTreeSet<Source>,
    /// For a struct built by `named_struct`, each field's own lineage (what `kpi` reads).
    pub fields: BTreeMap<String, ColumnLineage>,
}

impl ColumnLineage {
    fn absorb(&mut self, other: &ColumnLineage) {
        self.computed_from
            .extend(other.computed_from.iter().cloned());
        self.filtered_by.extend(other.filtered_by.iter().cloned());
    }

    /// All that `other` depends on becomes a filter of this column.
    fn filtered_by_all(&mut self, other: &ColumnLineage) {
        self.filtered_by.extend(other.computed_from.iter().cloned());
        self.filtered_by.extend(other.filtered_by.iter().cloned());
    }
}

/// Lineage of every column of every planned model, by model name.
pub type Lineage = BTreeMap<String, Vec<(String, ColumnLineage)>>;

struct Walker<'a> {
    known: &'a Lineage,
}

impl Walker<'_> {
    /// The lineage of each output column of `plan`, in its schema's order.
    fn plan(&self, plan: &LogicalPlan) -> Vec<ColumnLineage> {
        let inputs: Vec<Vec<ColumnLineage>> = plan.inputs().iter().map(|p| self.plan(p)).collect();
        let resolve =
            |e: &Expr, within: &LogicalPlan, of: &[ColumnLineage]| self.expr(e, within, of);
        match plan {
            LogicalPlan::TableScan(scan) => {
                let table = scan.table_name.table().to_lowercase();
                scan.projected_schema
                    .fields()
                    .iter()
                    .map(|f| self.scan_column(&table, f.name()))
                    .collect()
            }
            LogicalPlan::Projection(p) => p
                .expr
                .iter()
                .map(|e| resolve(e, &p.input, &inputs[0]))
                .collect(),
            LogicalPlan::Filter(f) => {
                let cond = resolve(&f.predicate, &f.input, &inputs[0]);
                with_filter(inputs[0].clone(), &cond)
            }
            LogicalPlan::Join(j) => self.join(plan, j, &inputs),
            LogicalPlan::Aggregate(a) => {
                let mut group = ColumnLineage::default();
                let keys: Vec<ColumnLineage> = a
                    .group_expr
                    .iter()
                    .map(|e| resolve(e, &a.input, &inputs[0]))
                    .collect();
                keys.iter().for_each(|k| group.absorb(k));
                let aggs = a.aggr_expr.iter().map(|e| {
                    let mut l = resolve(e, &a.input, &inputs[0]);
                    l.filtered_by_all(&group);
                    l
                });
                keys.clone().into_iter().chain(aggs).collect()
            }
            LogicalPlan::Window(w) => {
                let mut out = inputs[0].clone();
                out.extend(
                    w.window_expr
                        .iter()
                        .map(|e| self.window(e, &w.input, &inputs[0])),
                );
                out
            }
            LogicalPlan::Union(_) => {
                let mut out = inputs[0].clone();
                for other in &inputs[1..] {
                    for (o, i) in out.iter_mut().zip(other) {
                        o.absorb(i);
                    }
                }
                out
            }
            LogicalPlan::Unnest(u) => u
                .dependency_indices
                .iter()
                .map(|&i| inputs[0].get(i).cloned().unwrap_or_default())
                .collect(),
            LogicalPlan::Subquery(_)
            | LogicalPlan::SubqueryAlias(_)
            | LogicalPlan::Sort(_)
            | LogicalPlan::Limit(_)
            | LogicalPlan::Distinct(_)
            | LogicalPlan::Repartition(_) => inputs.into_iter().next().unwrap_or_default(),
            // Anything else: every output depends on every input column.
            other => {
                let mut all = ColumnLineage::default();
                inputs.iter().flatten().for_each(|l| all.absorb(l));
                vec![all; other.schema().fields().len()]
            }
        }
    }

    /// A join's columns: both sides' (or one side's, for a semi or anti join), each filtered by
    /// the join keys and the join filter.
    fn join(
        &self,
        plan: &LogicalPlan,
        j: &datafusion::logical_expr::Join,
        inputs: &[Vec<ColumnLineage>],
    ) -> Vec<ColumnLineage> {
        let mut keys = ColumnLineage::default();
        for (l, r) in &j.on {
            keys.absorb(&self.expr(l, &j.left, &inputs[0]));
            keys.absorb(&self.expr(r, &j.right, &inputs[1]));
        }
        if let Some(filter) = &j.filter {
            keys.absorb(&self.expr(filter, &j.left, &inputs[0]));
            keys.absorb(&self.expr(filter, &j.right, &inputs[1]));
        }
        let combined: Vec<ColumnLineage> = inputs.concat();
        let out = if plan.schema().fields().len() == combined.len() {
            combined
        } else {
            let left = j.left.schema().fields().len() == plan.schema().fields().len();
            inputs[if left { 0 } else { 1 }].clone()
        };
        with_filter(out, &keys)
    }

    fn scan_column(&self, table: &str, column: &str) -> ColumnLineage {
        let mut l = ColumnLineage::default();
        l.computed_from
            .insert((table.to_string(), column.to_string()));
        if let Some(upstream) = self
            .known
            .get(table)
            .and_then(|cols| cols.iter().find(|c| c.0 == column))
        {
            l.absorb(&upstream.1);
        }
        l
    }

    /// The lineage of an expression over `within`'s input columns `of`; subqueries inside it
    /// add what their output depends on.
    fn expr(&self, e: &Expr, within: &LogicalPlan, of: &[ColumnLineage]) -> ColumnLineage {
        let bare = match e {
            Expr::Alias(a) => a.expr.as_ref(),
            other => other,
        };
        if let Expr::Column(c) = bare {
            return column_of(within, of, c).cloned().unwrap_or_default();
        }
        if let Some(l) = self.kpi(bare, within, of) {
            return l;
        }
        if let Some(l) = self.first_by(bare, within, of) {
            return l;
        }
        if let Some(l) = self.field(bare, within, of) {
            return l;
        }
        let mut out = self.refs(bare, within, of);
        if let Expr::ScalarFunction(f) = bare {
            if f.func.name() == "named_struct" {
                for pair in f.args.chunks(2) {
                    if let [Expr::Literal(name, _), value] = pair {
                        if let Some(Some(name)) = name.try_as_str() {
                            let field = self.refs(value, within, of);
                            out.fields.insert(name.to_string(), field);
                        }
                    }
                }
            }
        }
        out
    }

    /// `kpi('metric', measures)` over a `named_struct` column: computed from the measures its
    /// formula reads (see [`crate::udf::kpi`]), not from every field of the struct.
    fn kpi(&self, e: &Expr, within: &LogicalPlan, of: &[ColumnLineage]) -> Option<ColumnLineage> {
        let Expr::ScalarFunction(f) = e else {
            return None;
        };
        let (Some(Expr::Literal(metric, _)), Some(Expr::Column(c))) =
            (f.args.first(), f.args.get(1))
        else {
            return None;
        };
        if f.func.name() != "kpi" {
            return None;
        }
        let formula = crate::udf::kpi::metric(metric.try_as_str()??)?.formula;
        let measures = column_of(within, of, c)?;
        let mut out = ColumnLineage {
            filtered_by: measures.filtered_by.clone(),
            ..ColumnLineage::default()
        };
        for m in formula.measures() {
            out.absorb(measures.fields.get(m)?);
        }
        Some(out)
    }

    /// `first_by(value, key...)` / `last_by` (with a FILTER or not): computed from the value
    /// (and, for a struct, each field from its own), picked by the keys and the filter, which
    /// only decide which row's value it is, as a window's order keys do.
    fn first_by(
        &self,
        e: &Expr,
        within: &LogicalPlan,
        of: &[ColumnLineage],
    ) -> Option<ColumnLineage> {
        let Expr::AggregateFunction(f) = e else {
            return None;
        };
        if !matches!(f.func.name(), "first_by" | "last_by") {
            return None;
        }
        let (value, keys) = f.params.args.split_first()?;
        let mut out = self.expr(value, within, of);
        for k in keys.iter().chain(f.params.filter.as_deref()) {
            let picks = self.expr(k, within, of);
            out.filtered_by_all(&picks);
            out.fields
                .values_mut()
                .for_each(|l| l.filtered_by_all(&picks));
        }
        Some(out)
    }

    /// A field of a struct column (`s['name']`) whose fields' lineage is known: that field's,
    /// with what decides the struct's rows.
    fn field(&self, e: &Expr, within: &LogicalPlan, of: &[ColumnLineage]) -> Option<ColumnLineage> {
        let Expr::ScalarFunction(f) = e else {
            return None;
        };
        let [Expr::Column(c), Expr::Literal(name, _)] = f.args.as_slice() else {
            return None;
        };
        if f.func.name() != "get_field" {
            return None;
        }
        let whole = column_of(within, of, c)?;
        let mut out = whole.fields.get(name.try_as_str()??)?.clone();
        out.filtered_by.extend(whole.filtered_by.iter().cloned());
        Some(out)
    }

    /// What the columns and subqueries an expression reads make of it.
    fn refs(&self, e: &Expr, within: &LogicalPlan, of: &[ColumnLineage]) -> ColumnLineage {
        let mut out = ColumnLineage::default();
        for c in e.column_refs() {
            if let Some(l) = column_of(within, of, c) {
                out.absorb(l);
            }
        }
        let _ = e.apply(|node| {
            match node {
                Expr::ScalarSubquery(sq) => {
                    self.plan(&sq.subquery).iter().for_each(|l| out.absorb(l))
                }
                Expr::Exists(ex) => self
                    .plan(&ex.subquery.subquery)
                    .iter()
                    .for_each(|l| out.filtered_by_all(l)),
                Expr::InSubquery(ins) => self
                    .plan(&ins.subquery.subquery)
                    .iter()
                    .for_each(|l| out.filtered_by_all(l)),
                _ => {}
            }
            Ok(TreeNodeRecursion::Continue)
        });
        out
    }

    /// A window expression: its arguments compute it, its partition and order keys group it.
    fn window(&self, e: &Expr, within: &LogicalPlan, of: &[ColumnLineage]) -> ColumnLineage {
        let inner = match e {
            Expr::Alias(a) => a.expr.as_ref(),
            other => other,
        };
        let Expr::WindowFunction(w) = inner else {
            return self.expr(e, within, of);
        };
        let mut out = ColumnLineage::default();
        w.params
            .args
            .iter()
            .for_each(|a| out.absorb(&self.expr(a, within, of)));
        let keys = w
            .params
            .partition_by
            .iter()
            .chain(w.params.order_by.iter().map(|s| &s.expr));
        keys.for_each(|k| out.filtered_by_all(&self.expr(k, within, of)));
        out
    }
}

/// The lineage of `column` among the output columns `of` of `plan`'s input(s).
fn column_of<'a>(
    plan: &LogicalPlan,
    of: &'a [ColumnLineage],
    column: &Column,
) -> Option<&'a ColumnLineage> {
    plan.schema()
        .index_of_column(column)
        .ok()
        .and_then(|i| of.get(i))
}

fn with_filter(mut columns: Vec<ColumnLineage>, cond: &ColumnLineage) -> Vec<ColumnLineage> {
    columns.iter_mut().for_each(|c| c.filtered_by_all(cond));
    columns
}

/// Lineage of every model (in `order`) planned on `ctx`, as `check` leaves it (every table
/// registered, empty).
pub async fn lineage(ctx: &SessionContext, models: &[Model], order: &[usize]) -> Result<Lineage> {
    let mut known = Lineage::new();
    for &i in order {
        let m = &models[i];
        if m.is_test {
            continue;
        }
        let plan = ctx.state().create_logical_plan(m.statement()).await?;
        let columns = Walker { known: &known }.plan(&plan);
        let names = plan.schema().fields().iter().map(|f| f.name().clone());
        let entry = names.zip(columns).collect();
        known.insert(m.name.clone(), entry);
    }
    Ok(known)
}

/// The models of `project` and the lineage of each: `check` plans them (no data read), then
/// each plan is walked.
pub async fn project_lineage(
    project: &crate::config::Project,
    ctx: &SessionContext,
) -> Result<(Vec<Model>, Lineage)> {
    let report = super::check::check(project, ctx).await?;
    if let Some(p) = report.problems.first() {
        return Err(crate::Error::Model {
            model: p.model.clone(),
            file: p.file.clone().into(),
            message: format!("does not check, so it has no lineage: {}", p.message),
        });
    }
    let all = lineage(ctx, &report.models, &report.order).await?;
    Ok((report.models, all))
}
