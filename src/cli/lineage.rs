//! `clearsight lineage MODEL.COLUMN [--downstream] [--json]`: column lineage for people (a tree)
//! and machines (JSON).

use super::output::say;
use std::collections::BTreeSet;

use super::{Context, LineageArgs};
use crate::error::{exit, Error, Result};
use crate::run::lineage::{project_lineage, Source};

fn is_source_table(table: &str) -> bool {
    crate::warehouse::schema::TABLES.contains(&table) || table.starts_with("cfg_")
}

fn names(set: &BTreeSet<Source>, keep: impl Fn(&str) -> bool) -> Vec<String> {
    set.iter()
        .filter(|(t, _)| keep(t))
        .map(|(t, c)| format!("{t}.{c}"))
        .collect()
}

fn tree(title: &str, branches: &[(&str, Vec<String>)]) -> String {
    let mut out = format!("{title}\n");
    for (b, (label, items)) in branches.iter().enumerate() {
        let last = b + 1 == branches.len();
        out += &format!("{} {label}\n", if last { "└─" } else { "├─" });
        for (i, item) in items.iter().enumerate() {
            let pipe = if last { "   " } else { "│  " };
            let end = if i + 1 == items.len() {
                "└─"
            } else {
                "├─"
            };
            out += &format!("{pipe}{end} {item}\n");
        }
    }
    out
}

pub async fn lineage(ctx: &Context, args: &LineageArgs) -> Result<i32> {
    let (table, column) = args.column.split_once('.').ok_or_else(|| {
        Error::Usage(format!(
            "{:?}: name a column as MODEL.COLUMN (e.g. pipeline_metrics.revenue)",
            args.column
        ))
    })?;
    let (_, all) = project_lineage(&ctx.project, &ctx.local_session()?).await?;
    let json;
    let text;
    if args.downstream {
        let target = (table.to_string(), column.to_string());
        let (mut computed, mut filtered) = (Vec::new(), Vec::new());
        for (model, cols) in &all {
            for (name, l) in cols {
                if l.computed_from.contains(&target) {
                    computed.push(format!("{model}.{name}"));
                } else if l.filtered_by.contains(&target) {
                    filtered.push(format!("{model}.{name}"));
                }
            }
        }
        json =
            serde_json::json!({"column": args.column, "computes": computed, "filters": filtered});
        text = tree(
            &args.column,
            &[
                ("computes", computed),
                ("only filters, joins or groups", filtered),
            ],
        );
    } else {
        let l = all
            .get(table)
            .and_then(|cols| cols.iter().find(|c| c.0 == column))
            .map(|c| c.1.clone())
            .ok_or_else(|| {
                Error::Usage(format!(
                    "no model column {}: run `clearsight check --json` to list them",
                    args.column
                ))
            })?;
        let computed = names(&l.computed_from, is_source_table);
        let only: BTreeSet<Source> = l
            .filtered_by
            .difference(&l.computed_from)
            .cloned()
            .collect();
        let filtered = names(&only, is_source_table);
        let mut via = names(&l.computed_from, |t| !is_source_table(t));
        via.extend(names(&only, |t| !is_source_table(t)));
        json = serde_json::json!({"column": args.column, "computed_from": computed, "filtered_by": filtered, "via_models": via});
        text = tree(
            &args.column,
            &[
                ("computed from", computed),
                ("only filters, joins or groups it", filtered),
                ("through the model columns", via),
            ],
        );
    }
    if ctx.json {
        say!("{json}");
    } else {
        super::output::write_stdout(text.as_bytes())?;
    }
    Ok(exit::OK)
}
