//! Secrets: values that never appear in plan output, logs, errors or JSON, encrypted in state.
