//! `clean_text(x)`: a label trimmed of spaces and lower-cased, NULL when nothing is left. It is
//! `NULLIF(LOWER(TRIM(x)), '')`, the way the models compare sources, media and campaigns, in
//! one pass: DataFusion's three functions each build a new array, and `LOWER` allocates a
//! string per value. Most labels are clean already; over string views they come back as views
//! of the input's own bytes (a trimmed label too, being a part of them), and only the labels
//! that change are copied. `stg_ga_sessions` cleans six columns of every event with it.

use std::borrow::Cow;
use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, GenericStringArray, GenericStringBuilder, OffsetSizeTrait,
    StringViewArray, StringViewBuilder,
};
use datafusion::arrow::array::{ByteView, MAX_INLINE_VIEW_LEN};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{exec_err, Result, ScalarValue};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct CleanText {
    signature: Signature,
}

impl Default for CleanText {
    fn default() -> Self {
        CleanText {
            signature: Signature::string(1, Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for CleanText {
    fn name(&self) -> &str {
        "clean_text"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        Ok(args[0].clone())
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let scalar = matches!(args.args[0], ColumnarValue::Scalar(_));
        let input = args.args[0].to_array(args.number_rows)?;
        let out: ArrayRef = match input.data_type() {
            DataType::Utf8View => Arc::new(clean_views(input.as_string_view())),
            DataType::Utf8 => Arc::new(clean_strings(input.as_string::<i32>())),
            DataType::LargeUtf8 => Arc::new(clean_strings(input.as_string::<i64>())),
            other => return exec_err!("clean_text takes a string, not {other}"),
        };
        Ok(if scalar {
            ColumnarValue::Scalar(ScalarValue::try_from_array(&out, 0)?)
        } else {
            ColumnarValue::Array(out)
        })
    }
}

/// `NULLIF(LOWER(TRIM(value)), '')`: SQL's `TRIM` removes spaces only, and `LOWER` is Unicode
/// lower case. Borrowed when lower-casing changes nothing.
fn clean(value: &str) -> Option<Cow<'_, str>> {
    let trimmed = value.trim_matches(' ');
    if trimmed.is_empty() {
        None
    } else if trimmed.is_ascii() {
        Some(if trimmed.bytes().any(|b| b.is_ascii_uppercase()) {
            Cow::Owned(trimmed.to_ascii_lowercase())
        } else {
            Cow::Borrowed(trimmed)
        })
    } else {
        let lower = trimmed.to_lowercase();
        Some(if lower == trimmed {
            Cow::Borrowed(trimmed)
        } else {
            Cow::Owned(lower)
        })
    }
}

fn clean_strings<O: OffsetSizeTrait>(input: &GenericStringArray<O>) -> GenericStringArray<O> {
    let mut out = GenericStringBuilder::<O>::with_capacity(input.len(), input.value_data().len());
    for value in input {
        out.append_option(value.and_then(clean));
    }
    out.finish()
}

/// Over string views, a label that only loses spaces (or nothing) is a view of the input's
/// bytes: the input's buffers become the output's, and only changed labels are copied.
fn clean_views(input: &StringViewArray) -> StringViewArray {
    let mut out = StringViewBuilder::with_capacity(input.len());
    let blocks: Vec<u32> = (input.data_buffers().iter())
        .map(|buffer| out.append_block(buffer.clone()))
        .collect();
    for (i, &view) in input.views().iter().enumerate() {
        if input.is_null(i) {
            out.append_null();
            continue;
        }
        let value = input.value(i);
        match clean(value) {
            None => out.append_null(),
            Some(Cow::Owned(lower)) => out.append_value(&lower),
            // A short label lives in the view itself.
            Some(Cow::Borrowed(kept)) if kept.len() <= MAX_INLINE_VIEW_LEN as usize => {
                out.append_value(kept)
            }
            Some(Cow::Borrowed(kept)) => {
                let view = ByteView::from(view);
                let skipped = kept.as_ptr() as usize - value.as_ptr() as usize;
                out.try_append_view(
                    blocks[view.buffer_index as usize],
                    view.offset + skipped as u32,
                    kept.len() as u32,
                )
                .expect("a part of a value lies in the value's buffer");
            }
        }
    }
    out.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{LargeStringArray, RecordBatch, StringArray};
    use datafusion::arrow::datatypes::{Field, Schema};
    use datafusion::datasource::MemTable;
    use datafusion::logical_expr::ScalarUDF;
    use datafusion::prelude::SessionContext;

    /// Labels as exports have them: clean, padded, upper-cased, long enough to live outside a
    /// string view, blank, non-ASCII, a tab (not a space: kept), NULL.
    const LABELS: [Option<&str>; 12] = [
        Some("google"),
        Some("  Google  "),
        Some("NEWSLETTER"),
        Some("spring_sale_2024_retargeting"),
        Some("   Spring_Sale_2024_Retargeting "),
        Some("  spring_sale_2024_retargeting   "),
        Some(""),
        Some("    "),
        Some("Ünïcode Straße"),
        Some("İstanbul"),
        Some("\tcpc"),
        None,
    ];

    #[test]
    fn cleans_by_hand() {
        assert_eq!(clean("  Google  ").as_deref(), Some("google"));
        assert_eq!(clean("google").unwrap(), Cow::Borrowed("google"));
        assert_eq!(clean("   "), None);
        assert_eq!(clean("Ünïcode").as_deref(), Some("ünïcode"));
        // Lower-casing 'İ' gives two characters, 'i' and a combining dot.
        assert_eq!(clean("İ").as_deref(), Some("i\u{307}"));
        assert_eq!(clean("\tCPC").as_deref(), Some("\tcpc"));
    }

    /// The same as DataFusion's `NULLIF(LOWER(TRIM(x)), '')`, over each string type, with the
    /// input's type kept.
    #[tokio::test]
    async fn agrees_with_nullif_lower_trim_over_every_string_type() {
        let columns: [ArrayRef; 3] = [
            Arc::new(StringArray::from(LABELS.to_vec())),
            Arc::new(StringViewArray::from(LABELS.to_vec())),
            Arc::new(LargeStringArray::from(LABELS.to_vec())),
        ];
        for column in columns {
            let schema = Arc::new(Schema::new(vec![Field::new(
                "x",
                column.data_type().clone(),
                true,
            )]));
            let batch = RecordBatch::try_new(schema.clone(), vec![column.clone()]).unwrap();
            let ctx = SessionContext::new();
            let table = MemTable::try_new(schema, vec![vec![batch]]).unwrap();
            ctx.register_table("t", Arc::new(table)).unwrap();
            ctx.register_udf(ScalarUDF::from(CleanText::default()));
            let sql = "SELECT clean_text(x) AS ours, NULLIF(LOWER(TRIM(x)), '') AS theirs FROM t";
            let batches = ctx.sql(sql).await.unwrap().collect().await.unwrap();
            let (ours, theirs) = (batches[0].column(0), batches[0].column(1));
            assert_eq!(ours.data_type(), column.data_type());
            let text = |a: &ArrayRef| {
                let a = datafusion::arrow::compute::cast(a, &DataType::Utf8).unwrap();
                a.as_string::<i32>()
                    .iter()
                    .map(|v| v.map(String::from))
                    .collect::<Vec<_>>()
            };
            assert_eq!(text(ours), text(theirs), "{}", column.data_type());
            assert_eq!(
                text(ours)[4].as_deref(),
                Some("spring_sale_2024_retargeting")
            );
            assert_eq!(text(ours)[7], None);
        }
    }

    /// Over string views the clean and the only-trimmed labels are views of the input's bytes:
    /// the output holds the input's buffers and copies only the label that changed.
    #[test]
    fn views_keep_the_input_bytes_and_copy_only_changed_labels() {
        let input = StringViewArray::from(vec![
            Some("   spring_sale_2024_retargeting "),
            Some("spring_sale_2024_retargeting_2"),
            Some("Spring_Sale_2024_Retargeting_3"),
        ]);
        let out = clean_views(&input);
        assert_eq!(out.value(0), "spring_sale_2024_retargeting");
        assert_eq!(out.value(2), "spring_sale_2024_retargeting_3");
        let input_buffers = input.data_buffers().len();
        assert_eq!(
            out.data_buffers().len(),
            input_buffers + 1,
            "one buffer of copies"
        );
        let copied: usize = out.data_buffers()[input_buffers..]
            .iter()
            .map(|b| b.len())
            .sum();
        assert_eq!(copied, "spring_sale_2024_retargeting_3".len());
    }
}
