//! AWS clients, built once per execution environment and cloned into handlers.

use aws_config::{BehaviorVersion, SdkConfig};

/// Loads the SDK configuration (region, credentials, and `AWS_ENDPOINT_URL` when set).
pub async fn sdk_config() -> SdkConfig {
    aws_config::load_defaults(BehaviorVersion::latest()).await
}

/// An S3 client. With an endpoint override (a local moto server) it uses path-style
/// addressing, since `bucket.localhost` names do not resolve.
pub fn s3_client(config: &SdkConfig, endpoint_override: Option<&str>) -> aws_sdk_s3::Client {
    let mut builder = aws_sdk_s3::config::Builder::from(config);
    if let Some(url) = endpoint_override {
        builder = builder.endpoint_url(url).force_path_style(true);
    }
    aws_sdk_s3::Client::from_conf(builder.build())
}

/// An SQS client, honouring the same endpoint override.
pub fn sqs_client(config: &SdkConfig, endpoint_override: Option<&str>) -> aws_sdk_sqs::Client {
    let mut builder = aws_sdk_sqs::config::Builder::from(config);
    if let Some(url) = endpoint_override {
        builder = builder.endpoint_url(url);
    }
    aws_sdk_sqs::Client::from_conf(builder.build())
}
