//! Traffic between workloads and Services: a CSV (`source,destination,bytes[,window_seconds]`,
//! with `namespace/workload` and `namespace/service`) or a Prometheus response with Istio's
//! labels (`source_workload_namespace`, `source_workload`, `destination_service_namespace`,
//! `destination_service_name`) whose values are bytes over the window, for example
//! `sum by (…) (increase(istio_tcp_sent_bytes_total[7d]))`.

use std::path::Path;

use super::{LoadError, Result};
use crate::model::TrafficFlow;

/// Window assumed when the file does not say: 7 days.
pub const DEFAULT_WINDOW_SECONDS: f64 = 7.0 * 86_400.0;

fn field_err(path: &Path, row: usize, field: &str, message: String) -> LoadError {
    LoadError::Field {
        path: path.to_path_buf(),
        object: format!("row {row}"),
        field: field.into(),
        message,
    }
}

/// Loads a traffic matrix from a CSV or Prometheus JSON file.
pub fn load_traffic(path: impl AsRef<Path>) -> Result<Vec<TrafficFlow>> {
    let path = path.as_ref();
    let text = std::fs::read_to_string(path).map_err(|source| LoadError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    if path.extension().and_then(|e| e.to_str()) == Some("csv") {
        let mut rdr = csv::ReaderBuilder::new()
            .trim(csv::Trim::All)
            .from_reader(text.as_bytes());
        let headers = rdr
            .headers()
            .map_err(|e| field_err(path, 0, "(header)", e.to_string()))?
            .clone();
        let col = |n: &str| headers.iter().position(|h| h == n);
        let (Some(cs), Some(cd), Some(cb)) = (col("source"), col("destination"), col("bytes"))
        else {
            return Err(field_err(
                path,
                0,
                "(header)",
                "needs the columns source, destination, bytes".into(),
            ));
        };
        let cw = col("window_seconds");
        let mut out = Vec::new();
        for (i, rec) in rdr.records().enumerate() {
            let row = i + 1;
            let rec = rec.map_err(|e| field_err(path, row, "(record)", e.to_string()))?;
            let get = |c: usize| rec.get(c).unwrap_or("").to_string();
            let num = |c: usize, f: &str| -> Result<f64> {
                let v = get(c);
                v.parse::<f64>()
                    .ok()
                    .filter(|x| x.is_finite() && *x >= 0.0)
                    .ok_or_else(|| {
                        field_err(path, row, f, format!("{v:?} is not a non-negative number"))
                    })
            };
            let (source, destination) = (get(cs), get(cd));
            for (v, f) in [(&source, "source"), (&destination, "destination")] {
                if !v.contains('/') {
                    return Err(field_err(
                        path,
                        row,
                        f,
                        format!("{v:?} is not namespace/name"),
                    ));
                }
            }
            out.push(TrafficFlow {
                source,
                destination,
                bytes: num(cb, "bytes")?,
                window_seconds: match cw {
                    Some(c) if !get(c).is_empty() => num(c, "window_seconds")?,
                    _ => DEFAULT_WINDOW_SECONDS,
                },
            });
        }
        return Ok(out);
    }
    let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| LoadError::Syntax {
        path: path.to_path_buf(),
        format: "JSON",
        line: e.line(),
        column: e.column(),
        message: e.to_string(),
    })?;
    let Some(result) = v.pointer("/data/result").and_then(|r| r.as_array()) else {
        return Err(LoadError::Unrecognized {
            path: path.to_path_buf(),
            message: "not a CSV and not a Prometheus response (data.result)".into(),
        });
    };
    let mut out = Vec::new();
    for (i, s) in result.iter().enumerate() {
        let label = |k: &str| {
            s.pointer(&format!("/metric/{k}"))
                .and_then(|x| x.as_str())
                .map(str::to_string)
        };
        let (Some(sn), Some(sw), Some(dn), Some(ds)) = (
            label("source_workload_namespace"),
            label("source_workload"),
            label("destination_service_namespace"),
            label("destination_service_name"),
        ) else {
            return Err(LoadError::Field {
                path: path.to_path_buf(),
                object: format!("series {i}"),
                field: "metric".into(),
                message: "needs source_workload_namespace, source_workload, destination_service_namespace, destination_service_name".into(),
            });
        };
        // a vector sample, or the last sample of a matrix
        let value = s.get("value").or_else(|| {
            s.get("values")
                .and_then(|v| v.as_array())
                .and_then(|a| a.last())
        });
        let bytes = value
            .and_then(|v| v.get(1))
            .and_then(|x| x.as_str())
            .and_then(|x| x.parse::<f64>().ok())
            .filter(|x| x.is_finite() && *x >= 0.0)
            .ok_or_else(|| LoadError::Field {
                path: path.to_path_buf(),
                object: format!("series {i}"),
                field: format!("data.result[{i}].value"),
                message: "expected [timestamp, \"bytes\"]".into(),
            })?;
        out.push(TrafficFlow {
            source: format!("{sn}/{sw}"),
            destination: format!("{dn}/{ds}"),
            bytes,
            window_seconds: DEFAULT_WINDOW_SECONDS,
        });
    }
    Ok(out)
}
