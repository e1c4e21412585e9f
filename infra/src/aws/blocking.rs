//! A synchronous front for the CLI: one private tokio runtime plus the clients.
//!
//! `plan`, `apply` and `destroy` are sequential: they call this front and stay free of
//! async plumbing, while the SDK runs on tokio underneath. (The consumer and `tail`, which
//! are concurrent, use the async clients on the binary's own runtime.)

use super::apply::{apply_plan, apply_plan_observed, plan_stack, ApplyReport};
use super::read::AccountFacts;
use super::{AwsClients, AwsError, AwsSettings};
use crate::plan::Plan;
use rules::desired::Desired;

/// Clients plus the runtime they run on.
#[derive(Debug)]
pub struct BlockingAws {
    runtime: tokio::runtime::Runtime,
    aws: AwsClients,
}

impl BlockingAws {
    /// Resolves the standard AWS configuration (plus `settings`) and builds the clients.
    pub fn connect(settings: &AwsSettings) -> Result<BlockingAws, AwsError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| AwsError::Invalid {
                resource: "runtime".into(),
                message: format!("cannot start the async runtime: {e}"),
            })?;
        let aws = runtime.block_on(AwsClients::from_env(settings))?;
        Ok(BlockingAws { runtime, aws })
    }

    pub fn clients(&self) -> &AwsClients {
        &self.aws
    }

    /// Runs any SDK future to completion.
    pub fn block_on<F: std::future::Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }

    /// Reads AWS and plans `spec` against it.
    pub fn plan(&self, spec: &Desired, prune: bool) -> Result<(Plan, AccountFacts), AwsError> {
        self.runtime.block_on(plan_stack(&self.aws, spec, prune))
    }

    /// Applies a plan computed by [`BlockingAws::plan`].
    pub fn apply(&self, spec: &Desired, plan: &Plan, facts: &AccountFacts) -> ApplyReport {
        self.runtime
            .block_on(apply_plan(&self.aws, spec, plan, facts))
    }

    /// [`BlockingAws::apply`], calling `observe` after each step (progress display).
    pub fn apply_observed(
        &self,
        spec: &Desired,
        plan: &Plan,
        facts: &AccountFacts,
        observe: &mut dyn FnMut(&crate::plan::Step),
    ) -> ApplyReport {
        self.runtime
            .block_on(apply_plan_observed(&self.aws, spec, plan, facts, observe))
    }
}
