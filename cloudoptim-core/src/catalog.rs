//! The EC2 instance catalog (every type with vCPU, memory, architecture, family, generation,
//! EKS allocatable and max pods, and the us-east-1 on-demand Linux price) and AWS's Spot
//! Advisor data.
//!
//! Both are embedded in the crate (`data/`, see `docs/data-provenance.md`) and parsed once on
//! first use; callers can load their own files instead.

use std::collections::HashMap;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use crate::model::Resources;
use crate::quantity::Quantity;

const CATALOG_CSV: &str = include_str!("../data/ec2-instance-catalog-us-east-1.csv");
const OD_PRICES_CSV: &str = include_str!("../data/ec2-ondemand-prices-us-east-1.csv");
const INSTANCE_INFO_JSONL: &str = include_str!("../data/eks-instance-info.jsonl");
const SPOT_ADVISOR_JSON: &str = include_str!("../data/spot-advisor-data.json");

/// The region whose prices are embedded.
pub const EMBEDDED_PRICE_REGION: &str = "us-east-1";

/// Why catalog or advisor data was rejected.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CatalogError {
    /// A CSV row could not be read.
    #[error("{source_name}: row {row}, column `{column}`: {message}")]
    Row {
        /// File or source name.
        source_name: String,
        /// 1-based data row.
        row: usize,
        /// Column.
        column: String,
        /// What is wrong.
        message: String,
    },
    /// The CSV is missing a column.
    #[error("{source_name}: missing column `{column}`")]
    MissingColumn {
        /// File or source name.
        source_name: String,
        /// Column.
        column: String,
    },
    /// The Spot Advisor JSON is malformed.
    #[error("{source_name}: malformed Spot Advisor data at `{field}`: {message}")]
    Advisor {
        /// File or source name.
        source_name: String,
        /// Field path.
        field: String,
        /// What is wrong.
        message: String,
    },
    /// An instance type is not in the catalog.
    #[error("unknown instance type {0:?}")]
    UnknownInstanceType(String),
}

/// Result alias for catalog operations.
pub type Result<T, E = CatalogError> = std::result::Result<T, E>;

/// One EC2 instance type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InstanceType {
    /// Name (`m5.large`).
    pub name: String,
    /// vCPUs.
    pub vcpu: u32,
    /// Memory in MiB.
    pub memory_mib: u64,
    /// `amd64` or `arm64`.
    pub arch: String,
    /// Family (`m5`).
    pub family: String,
    /// Category letter(s) (`m`, `c`, `r`, `t`, `g`, …).
    pub category: String,
    /// Generation number.
    pub generation: u32,
    /// CPU maker (`intel`, `amd`, `aws`).
    pub cpu_manufacturer: String,
    /// Hypervisor (`nitro`, `xen`, empty for metal).
    pub hypervisor: String,
    /// GPUs.
    pub gpu_count: u32,
    /// GPU model.
    pub gpu_name: Option<String>,
    /// Network bandwidth in Mbps.
    pub network_bandwidth_mbps: Option<u64>,
    /// What an EKS node of this type offers to pods (cpu, memory, ephemeral storage, pods).
    pub allocatable: Resources,
    /// Max pods with the VPC CNI.
    pub max_pods: u32,
    /// On-demand Linux USD per hour in us-east-1.
    pub od_price_us_east_1: Option<f64>,
}

impl InstanceType {
    /// Memory in bytes.
    pub fn memory_bytes(&self) -> i64 {
        self.memory_mib as i64 * 1024 * 1024
    }

    /// The size part of the name (`2xlarge`).
    pub fn size(&self) -> &str {
        self.name.split_once('.').map(|(_, s)| s).unwrap_or("")
    }

    /// Whether the type is burstable (`t` family).
    pub fn burstable(&self) -> bool {
        self.category == "t"
    }
}

/// The instance catalog.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    types: Vec<InstanceType>,
    index: HashMap<String, usize>,
}

fn parse_num<T: std::str::FromStr>(
    source_name: &str,
    row: usize,
    column: &str,
    v: &str,
) -> Result<Option<T>> {
    if v.trim().is_empty() {
        return Ok(None);
    }
    v.trim()
        .parse::<T>()
        .map(Some)
        .map_err(|_| CatalogError::Row {
            source_name: source_name.into(),
            row,
            column: column.into(),
            message: format!("{v:?} is not a number"),
        })
}

fn parse_qty(source_name: &str, row: usize, column: &str, v: &str) -> Result<Option<Quantity>> {
    if v.trim().is_empty() {
        return Ok(None);
    }
    Quantity::parse(v).map(Some).map_err(|e| CatalogError::Row {
        source_name: source_name.into(),
        row,
        column: column.into(),
        message: e.to_string(),
    })
}

impl Catalog {
    /// The catalog embedded in the crate (us-east-1 prices).
    pub fn embedded() -> &'static Catalog {
        static CATALOG: OnceLock<Catalog> = OnceLock::new();
        CATALOG.get_or_init(|| {
            // The embedded files are checked by this crate's tests; failing here is a build defect.
            #[allow(clippy::expect_used)]
            let mut c = Catalog::from_csv("embedded catalog", CATALOG_CSV)
                .expect("embedded catalog parses");
            #[allow(clippy::expect_used)]
            let prices =
                PriceTable::from_csv(EMBEDDED_PRICE_REGION, "embedded prices", OD_PRICES_CSV)
                    .expect("embedded price table parses");
            c.fill_missing_prices(&prices);
            c.fill_max_pods_from_instance_info(INSTANCE_INFO_JSONL);
            c
        })
    }

    /// Reads a catalog CSV with the columns of `ec2-instance-catalog-us-east-1.csv`.
    pub fn from_csv(source_name: &str, text: &str) -> Result<Catalog> {
        let mut rdr = csv::ReaderBuilder::new()
            .trim(csv::Trim::All)
            .from_reader(text.as_bytes());
        let headers = rdr
            .headers()
            .map_err(|e| CatalogError::Row {
                source_name: source_name.into(),
                row: 0,
                column: "(header)".into(),
                message: e.to_string(),
            })?
            .clone();
        let col = |name: &str| -> Result<usize> {
            headers
                .iter()
                .position(|h| h == name)
                .ok_or_else(|| CatalogError::MissingColumn {
                    source_name: source_name.into(),
                    column: name.into(),
                })
        };
        let c_type = col("instance_type")?;
        let c_vcpu = col("vcpu")?;
        let c_mem = col("memory_mib")?;
        let c_arch = col("arch")?;
        let c_family = col("family")?;
        let c_cat = col("category")?;
        let c_gen = col("generation")?;
        let c_cpu_m = col("cpu_manufacturer")?;
        let c_hyp = col("hypervisor")?;
        let c_gpu = col("gpu_count")?;
        let c_gpu_name = col("gpu_name")?;
        let c_net = col("network_bandwidth_mbps")?;
        let c_acpu = col("allocatable_cpu")?;
        let c_amem = col("allocatable_memory")?;
        let c_aeph = col("allocatable_ephemeral_storage")?;
        let c_pods = col("max_pods")?;
        let c_price = col("od_linux_usd_per_hour_us_east_1")?;
        let mut types = Vec::new();
        for (i, rec) in rdr.records().enumerate() {
            let row = i + 1;
            let rec = rec.map_err(|e| CatalogError::Row {
                source_name: source_name.into(),
                row,
                column: "(record)".into(),
                message: e.to_string(),
            })?;
            let get = |c: usize| rec.get(c).unwrap_or("");
            let name = get(c_type).to_string();
            if name.is_empty() {
                return Err(CatalogError::Row {
                    source_name: source_name.into(),
                    row,
                    column: "instance_type".into(),
                    message: "empty".into(),
                });
            }
            let vcpu: u32 = parse_num(source_name, row, "vcpu", get(c_vcpu))?.unwrap_or(0);
            let memory_mib: u64 =
                parse_num(source_name, row, "memory_mib", get(c_mem))?.unwrap_or(0);
            let max_pods: u32 = parse_num(source_name, row, "max_pods", get(c_pods))?.unwrap_or(0);
            let acpu = parse_qty(source_name, row, "allocatable_cpu", get(c_acpu))?;
            let amem = parse_qty(source_name, row, "allocatable_memory", get(c_amem))?;
            let aeph = parse_qty(
                source_name,
                row,
                "allocatable_ephemeral_storage",
                get(c_aeph),
            )?;
            let gpu_count: u32 = parse_num(source_name, row, "gpu_count", get(c_gpu))?.unwrap_or(0);
            types.push(InstanceType {
                vcpu,
                memory_mib,
                arch: get(c_arch).to_string(),
                family: get(c_family).to_string(),
                category: get(c_cat).to_string(),
                generation: parse_num(source_name, row, "generation", get(c_gen))?.unwrap_or(0),
                cpu_manufacturer: get(c_cpu_m).to_string(),
                hypervisor: get(c_hyp).to_string(),
                gpu_count,
                gpu_name: Some(get(c_gpu_name).to_string()).filter(|s| !s.is_empty()),
                network_bandwidth_mbps: parse_num(
                    source_name,
                    row,
                    "network_bandwidth_mbps",
                    get(c_net),
                )?,
                allocatable: Resources {
                    cpu_milli: acpu.map(|q| q.milli_value()).unwrap_or(vcpu as i64 * 1000),
                    memory_bytes: amem
                        .map(|q| q.value())
                        .unwrap_or(memory_mib as i64 * 1024 * 1024),
                    ephemeral_storage_bytes: aeph.map(|q| q.value()).unwrap_or(0),
                    gpus: gpu_count as i64,
                    pods: max_pods as i64,
                },
                max_pods,
                od_price_us_east_1: parse_num(
                    source_name,
                    row,
                    "od_linux_usd_per_hour_us_east_1",
                    get(c_price),
                )?,
                name,
            });
        }
        let index = types
            .iter()
            .enumerate()
            .map(|(i, t)| (t.name.clone(), i))
            .collect();
        Ok(Catalog { types, index })
    }

    fn fill_missing_prices(&mut self, prices: &PriceTable) {
        for t in &mut self.types {
            if t.od_price_us_east_1.is_none() {
                t.od_price_us_east_1 = prices.get(&t.name);
            }
        }
    }

    fn fill_max_pods_from_instance_info(&mut self, jsonl: &str) {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Info {
            instance_type: String,
            #[serde(rename = "defaultMaxENIs")]
            default_max_enis: u32,
            ipv4_addresses_per_interface: u32,
        }
        let infos: HashMap<String, u32> = jsonl
            .lines()
            .filter_map(|l| serde_json::from_str::<Info>(l).ok())
            .map(|i| {
                let pods =
                    i.default_max_enis * i.ipv4_addresses_per_interface.saturating_sub(1) + 2;
                (i.instance_type, pods)
            })
            .collect();
        for t in &mut self.types {
            if t.max_pods == 0
                && let Some(p) = infos.get(&t.name)
            {
                t.max_pods = *p;
                t.allocatable.pods = *p as i64;
            }
        }
    }

    /// An instance type by name.
    pub fn get(&self, name: &str) -> Option<&InstanceType> {
        self.index.get(name).map(|&i| &self.types[i])
    }

    /// An instance type by name, or an error naming it.
    pub fn require(&self, name: &str) -> Result<&InstanceType> {
        self.get(name)
            .ok_or_else(|| CatalogError::UnknownInstanceType(name.to_string()))
    }

    /// All types.
    pub fn iter(&self) -> impl Iterator<Item = &InstanceType> {
        self.types.iter()
    }

    /// Number of types.
    pub fn len(&self) -> usize {
        self.types.len()
    }

    /// Whether the catalog is empty.
    pub fn is_empty(&self) -> bool {
        self.types.is_empty()
    }
}

/// On-demand Linux prices for one region, from a CSV `instance_type,od_linux_usd_per_hour`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PriceTable {
    /// Region the prices are for.
    pub region: String,
    /// USD per hour by instance type.
    pub prices: HashMap<String, f64>,
}

impl PriceTable {
    /// Reads a price CSV with `instance_type` and a price column
    /// (`od_linux_usd_per_hour` or `od_linux_usd_per_hour_<region>`).
    pub fn from_csv(region: &str, source_name: &str, text: &str) -> Result<PriceTable> {
        let mut rdr = csv::ReaderBuilder::new()
            .trim(csv::Trim::All)
            .from_reader(text.as_bytes());
        let headers = rdr
            .headers()
            .map_err(|e| CatalogError::Row {
                source_name: source_name.into(),
                row: 0,
                column: "(header)".into(),
                message: e.to_string(),
            })?
            .clone();
        let c_type = headers
            .iter()
            .position(|h| h == "instance_type")
            .ok_or_else(|| CatalogError::MissingColumn {
                source_name: source_name.into(),
                column: "instance_type".into(),
            })?;
        let c_price = headers
            .iter()
            .position(|h| h.starts_with("od_linux_usd_per_hour") || h == "price")
            .ok_or_else(|| CatalogError::MissingColumn {
                source_name: source_name.into(),
                column: "od_linux_usd_per_hour".into(),
            })?;
        let mut prices = HashMap::new();
        for (i, rec) in rdr.records().enumerate() {
            let rec = rec.map_err(|e| CatalogError::Row {
                source_name: source_name.into(),
                row: i + 1,
                column: "(record)".into(),
                message: e.to_string(),
            })?;
            let name = rec.get(c_type).unwrap_or("").to_string();
            if let Some(p) =
                parse_num::<f64>(source_name, i + 1, "price", rec.get(c_price).unwrap_or(""))?
            {
                if !(p.is_finite() && p >= 0.0) {
                    return Err(CatalogError::Row {
                        source_name: source_name.into(),
                        row: i + 1,
                        column: "price".into(),
                        message: format!("{p} is not a valid price"),
                    });
                }
                prices.insert(name, p);
            }
        }
        Ok(PriceTable {
            region: region.to_string(),
            prices,
        })
    }

    /// Price of a type.
    pub fn get(&self, instance_type: &str) -> Option<f64> {
        self.prices.get(instance_type).copied()
    }
}

/// An interruption-frequency bucket of the Spot Advisor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InterruptionRange {
    /// Index (0 = `<5%` … 4 = `>20%`).
    pub index: u8,
    /// Label (`<5%`, `5-10%`, …).
    pub label: String,
    /// Upper bound in percent.
    pub max: u32,
}

/// Spot Advisor figures of one type in one region and OS.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AdvisorEntry {
    /// Savings over on-demand, percent (negative when spot costs more, as the feed sometimes says).
    pub savings_pct: i32,
    /// Interruption bucket.
    pub range: InterruptionRange,
}

/// OS → instance type → (savings %, range index).
type AdvisorRegion = HashMap<String, HashMap<String, (i32, u8)>>;

/// AWS's Spot Advisor data (`spot-advisor-data.json`).
#[derive(Debug, Clone, Default)]
pub struct SpotAdvisor {
    ranges: Vec<InterruptionRange>,
    // region → os → type → (savings, range index)
    data: HashMap<String, AdvisorRegion>,
}

impl SpotAdvisor {
    /// The snapshot embedded in the crate.
    pub fn embedded() -> &'static SpotAdvisor {
        static ADVISOR: OnceLock<SpotAdvisor> = OnceLock::new();
        ADVISOR.get_or_init(|| {
            #[allow(clippy::expect_used)]
            SpotAdvisor::from_json("embedded spot-advisor-data.json", SPOT_ADVISOR_JSON)
                .expect("embedded spot advisor parses")
        })
    }

    /// Parses a Spot Advisor file.
    pub fn from_json(source_name: &str, text: &str) -> Result<SpotAdvisor> {
        #[derive(Deserialize)]
        struct Raw {
            ranges: Vec<RawRange>,
            spot_advisor: HashMap<String, HashMap<String, HashMap<String, RawEntry>>>,
        }
        #[derive(Deserialize)]
        struct RawRange {
            index: u8,
            label: String,
            max: u32,
        }
        #[derive(Deserialize)]
        struct RawEntry {
            s: i32,
            r: u8,
        }
        let mut de = serde_json::Deserializer::from_str(text);
        let raw: Raw =
            serde_path_to_error::deserialize(&mut de).map_err(|e| CatalogError::Advisor {
                source_name: source_name.into(),
                field: e.path().to_string(),
                message: e.into_inner().to_string(),
            })?;
        let max_index = raw.ranges.iter().map(|r| r.index).max().unwrap_or(0);
        let mut data = HashMap::new();
        for (region, oses) in raw.spot_advisor {
            let mut by_os = HashMap::new();
            for (os, types) in oses {
                let mut by_type = HashMap::new();
                for (t, e) in types {
                    if e.r > max_index {
                        return Err(CatalogError::Advisor {
                            source_name: source_name.into(),
                            field: format!("spot_advisor.{region}.{os}.{t}.r"),
                            message: format!("range index {} is not in `ranges`", e.r),
                        });
                    }
                    by_type.insert(t, (e.s, e.r));
                }
                by_os.insert(os, by_type);
            }
            data.insert(region, by_os);
        }
        let mut ranges: Vec<InterruptionRange> = raw
            .ranges
            .into_iter()
            .map(|r| InterruptionRange {
                index: r.index,
                label: r.label,
                max: r.max,
            })
            .collect();
        ranges.sort_by_key(|r| r.index);
        Ok(SpotAdvisor { ranges, data })
    }

    /// Figures for a Linux type in a region.
    pub fn linux(&self, region: &str, instance_type: &str) -> Option<AdvisorEntry> {
        self.entry(region, "Linux", instance_type)
    }

    /// Figures for a type in a region and OS (`Linux`, `Windows`).
    pub fn entry(&self, region: &str, os: &str, instance_type: &str) -> Option<AdvisorEntry> {
        let (s, r) = *self.data.get(region)?.get(os)?.get(instance_type)?;
        let range = self.ranges.iter().find(|x| x.index == r)?.clone();
        Some(AdvisorEntry {
            savings_pct: s,
            range,
        })
    }

    /// The interruption buckets.
    pub fn ranges(&self) -> &[InterruptionRange] {
        &self.ranges
    }

    /// Regions covered.
    pub fn regions(&self) -> impl Iterator<Item = &str> {
        self.data.keys().map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_catalog_has_every_type() {
        let c = Catalog::embedded();
        assert_eq!(c.len(), 1363);
        let m5 = c.require("m5.large").unwrap();
        assert_eq!(m5.vcpu, 2);
        assert_eq!(m5.memory_mib, 8192);
        assert_eq!(m5.arch, "amd64");
        assert_eq!(m5.max_pods, 29);
        assert_eq!(m5.allocatable.cpu_milli, 1930);
        assert_eq!(m5.allocatable.memory_bytes, 6903 * 1024 * 1024);
        assert_eq!(m5.od_price_us_east_1, Some(0.096));
        assert_eq!(c.require("m6g.large").unwrap().arch, "arm64");
        assert!(matches!(
            c.require("m5.huge"),
            Err(CatalogError::UnknownInstanceType(_))
        ));
        let priced = c.iter().filter(|t| t.od_price_us_east_1.is_some()).count();
        assert!(priced >= 1345, "{priced} priced");
    }

    #[test]
    fn embedded_advisor_parses() {
        let a = SpotAdvisor::embedded();
        let e = a.linux("us-east-1", "m5.large").unwrap();
        assert!(e.savings_pct > 0 && e.savings_pct < 100);
        // the feed carries negative savings for some types: kept as they are
        assert!(a.linux("ca-central-1", "p5.48xlarge").unwrap().savings_pct < 0);
        assert_eq!(a.ranges().len(), 5);
        assert_eq!(a.ranges()[0].label, "<5%");
        assert!(a.regions().count() >= 30);
    }

    #[test]
    fn bad_csv_names_row_and_column() {
        let csv = "instance_type,vcpu,memory_mib,arch,family,category,generation,cpu_manufacturer,hypervisor,gpu_count,gpu_name,network_bandwidth_mbps,allocatable_cpu,allocatable_memory,allocatable_ephemeral_storage,max_pods,od_linux_usd_per_hour_us_east_1\nx.large,two,1024,amd64,x,x,1,intel,nitro,,,1,1,1Gi,1Gi,4,0.1\n";
        let err = Catalog::from_csv("t.csv", csv).unwrap_err().to_string();
        assert!(err.contains("row 1") && err.contains("vcpu"), "{err}");
        let bad_q = csv
            .replace(",two,", ",2,")
            .replace(",1Gi,1Gi,", ",1Gx,1Gi,");
        let err = Catalog::from_csv("t.csv", &bad_q).unwrap_err().to_string();
        assert!(err.contains("allocatable_memory"), "{err}");
    }

    #[test]
    fn bad_advisor_names_field() {
        let err = SpotAdvisor::from_json(
            "a.json",
            r#"{"ranges":[],"spot_advisor":{"us-east-1":{"Linux":{"m5.large":{"s":"x","r":0}}}}}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("m5.large"), "{err}");
        let err = SpotAdvisor::from_json("a.json", r#"{"ranges":[{"index":0,"label":"<5%","max":5}],"spot_advisor":{"us-east-1":{"Linux":{"m5.large":{"s":10,"r":7}}}}}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("range index 7"), "{err}");
    }
}
