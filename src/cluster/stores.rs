//! The object stores of a cluster's scheduler and executors: any bucket a
//! plan names, reached with the process's own `AWS_*` variables, as
//! `motcua` reaches a lake in a bucket.

use std::sync::Arc;

use datafusion::error::{DataFusionError, Result};
use datafusion::execution::object_store::{DefaultObjectStoreRegistry, ObjectStoreRegistry};
use object_store::ObjectStore;
use url::Url;

#[derive(Debug, Default)]
pub(super) struct EnvStores {
    known: DefaultObjectStoreRegistry,
}

impl ObjectStoreRegistry for EnvStores {
    fn register_store(
        &self,
        url: &Url,
        store: Arc<dyn ObjectStore>,
    ) -> Option<Arc<dyn ObjectStore>> {
        self.known.register_store(url, store)
    }

    fn deregister_store(&self, url: &Url) -> Result<Arc<dyn ObjectStore>> {
        self.known.deregister_store(url)
    }

    fn get_store(&self, url: &Url) -> Result<Arc<dyn ObjectStore>> {
        if let Ok(store) = self.known.get_store(url) {
            return Ok(store);
        }
        let (Some(bucket), "s3") = (url.host_str(), url.scheme()) else {
            return self.known.get_store(url);
        };
        let store_url = format!("s3://{bucket}");
        let store: Arc<dyn ObjectStore> = Arc::new(
            crate::storage::location::s3_store(&store_url, &store_url)
                .map_err(|e| DataFusionError::External(Box::new(e)))?,
        );
        let key = Url::parse(&store_url).map_err(|e| DataFusionError::External(Box::new(e)))?;
        self.known.register_store(&key, store.clone());
        Ok(store)
    }
}
