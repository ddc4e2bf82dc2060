//! The live cluster source: lists exactly what the offline loader reads, page by page.

use std::path::PathBuf;

use serde_json::Value;

use super::{ConnectOptions, KubeClient, query_escape, source_error};
use crate::executor::BoxFuture;
use crate::loader::{LoadOptions, Loaded, load_documents};
use crate::source::{ClusterSource, SourceError};

/// One resource the source lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListedResource {
    /// API prefix: `/api/v1` or `/apis/GROUP/VERSION`.
    pub api: &'static str,
    /// API group for RBAC (`""` for the core group).
    pub group: &'static str,
    /// Resource name (plural).
    pub plural: &'static str,
    /// Kind of the items.
    pub kind: &'static str,
    /// Whether the API may be missing (metrics.k8s.io without metrics-server): a 404 or 503
    /// then means "no metrics", not an error.
    pub optional: bool,
}

const fn r(
    api: &'static str,
    group: &'static str,
    plural: &'static str,
    kind: &'static str,
    optional: bool,
) -> ListedResource {
    ListedResource {
        api,
        group,
        plural,
        kind,
        optional,
    }
}

/// Everything the source lists, in this order, across all namespaces: the kinds the offline
/// loader reads. docs/least-privilege.md's read-only ClusterRole grants `list` on exactly these.
pub const LISTED: &[ListedResource] = &[
    r("/api/v1", "", "namespaces", "Namespace", false),
    r("/api/v1", "", "nodes", "Node", false),
    r("/api/v1", "", "pods", "Pod", false),
    r("/api/v1", "", "services", "Service", false),
    r(
        "/api/v1",
        "",
        "persistentvolumeclaims",
        "PersistentVolumeClaim",
        false,
    ),
    r(
        "/api/v1",
        "",
        "persistentvolumes",
        "PersistentVolume",
        false,
    ),
    r("/apis/apps/v1", "apps", "deployments", "Deployment", false),
    r(
        "/apis/apps/v1",
        "apps",
        "statefulsets",
        "StatefulSet",
        false,
    ),
    r("/apis/apps/v1", "apps", "daemonsets", "DaemonSet", false),
    r("/apis/apps/v1", "apps", "replicasets", "ReplicaSet", false),
    r("/apis/batch/v1", "batch", "jobs", "Job", false),
    r("/apis/batch/v1", "batch", "cronjobs", "CronJob", false),
    r(
        "/apis/autoscaling/v2",
        "autoscaling",
        "horizontalpodautoscalers",
        "HorizontalPodAutoscaler",
        false,
    ),
    r(
        "/apis/policy/v1",
        "policy",
        "poddisruptionbudgets",
        "PodDisruptionBudget",
        false,
    ),
    r(
        "/apis/metrics.k8s.io/v1beta1",
        "metrics.k8s.io",
        "nodes",
        "NodeMetrics",
        true,
    ),
    r(
        "/apis/metrics.k8s.io/v1beta1",
        "metrics.k8s.io",
        "pods",
        "PodMetrics",
        true,
    ),
];

/// The live Kubernetes source.
#[derive(Debug, Clone)]
pub struct KubeSource {
    client: KubeClient,
    options: LoadOptions,
}

impl KubeSource {
    /// A source on an existing connection.
    pub fn new(client: KubeClient, options: LoadOptions) -> Self {
        KubeSource { client, options }
    }

    /// Connects (see [`KubeClient::connect`]) and returns the source.
    pub async fn connect(
        connect: ConnectOptions,
        options: LoadOptions,
    ) -> Result<Self, SourceError> {
        Ok(KubeSource::new(
            KubeClient::connect(connect).await?,
            options,
        ))
    }

    /// The connection.
    pub fn client(&self) -> &KubeClient {
        &self.client
    }

    /// Lists every resource of [`LISTED`]: the list pages as the API sent them, each with the
    /// URL it came from, and warnings (an optional API that is not served).
    pub async fn list_documents(
        &self,
    ) -> Result<(Vec<(PathBuf, Value)>, Vec<String>), SourceError> {
        let mut docs = Vec::new();
        let mut warnings = Vec::new();
        for res in LISTED {
            match self.list(res).await? {
                Some(pages) => docs.extend(pages),
                None => warnings.push(format!(
                    "{}/{} is not served by {}: no live {} (is metrics-server installed?)",
                    res.api,
                    res.plural,
                    self.client.server(),
                    res.kind
                )),
            }
        }
        Ok((docs, warnings))
    }

    /// All pages of one resource; `None` when an optional API is not served.
    async fn list(
        &self,
        res: &ListedResource,
    ) -> Result<Option<Vec<(PathBuf, Value)>>, SourceError> {
        let limit = self.client.options().page_size.max(1);
        let resource = format!("list {} ({}/{})", res.plural, res.api, res.plural);
        let mut pages = Vec::new();
        let mut cont: Option<String> = None;
        let mut restarted = false;
        loop {
            let mut path = format!("{}/{}?limit={limit}", res.api, res.plural);
            if let Some(c) = &cont {
                path.push_str("&continue=");
                path.push_str(&query_escape(c));
            }
            let reply = self.client.send(&http::Method::GET, &path, None, &[]).await;
            if let Ok(rep) = &reply {
                if res.optional && (rep.status == 404 || rep.status == 503) {
                    return Ok(None);
                }
                // An expired continue token (the list was compacted meanwhile): start over once.
                if rep.status == 410 && cont.is_some() && !restarted {
                    restarted = true;
                    cont = None;
                    pages.clear();
                    continue;
                }
            }
            let rep = source_error(&resource, reply)?;
            let mut v: Value = serde_json::from_slice(&rep.body).map_err(|e| SourceError::Api {
                resource: resource.clone(),
                status: rep.status,
                message: format!("the answer is not JSON: {e}"),
            })?;
            if v.get("kind").and_then(Value::as_str).is_none()
                && let Some(obj) = v.as_object_mut()
            {
                obj.insert("kind".into(), Value::String(format!("{}List", res.kind)));
            }
            let next = v
                .get("metadata")
                .and_then(|m| m.get("continue"))
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_string);
            pages.push((PathBuf::from(format!("{}{path}", self.client.server())), v));
            match next {
                Some(c) => cont = Some(c),
                None => break,
            }
        }
        Ok(Some(pages))
    }

    /// Lists everything and builds the snapshot through the loader's conversion code.
    pub async fn load_snapshot(&self) -> crate::Result<Loaded> {
        let (docs, warnings) = self.list_documents().await?;
        let mut loaded = load_documents(docs, self.client.context(), &self.options)?;
        loaded.warnings.extend(warnings);
        Ok(loaded)
    }
}

impl ClusterSource for KubeSource {
    fn describe(&self) -> String {
        format!(
            "Kubernetes API {} (context {})",
            self.client.server(),
            self.client.context()
        )
    }

    fn load(&self) -> BoxFuture<'_, crate::Result<Loaded>> {
        Box::pin(self.load_snapshot())
    }
}
