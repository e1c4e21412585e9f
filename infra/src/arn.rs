//! ARNs as AWS forms them, in one place, partition-aware (`aws`, `aws-cn`, `aws-us-gov`).

/// The partition of a region: `cn-*` regions are `aws-cn`, `us-gov-*` are `aws-us-gov`.
pub fn partition_of_region(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

/// The ARN of a rule on a bus, as AWS forms it (custom buses add the bus name).
pub fn rule_arn(region: &str, account: &str, bus: &str, rule: &str) -> String {
    let partition = partition_of_region(region);
    if bus == "default" {
        format!("arn:{partition}:events:{region}:{account}:rule/{rule}")
    } else {
        format!("arn:{partition}:events:{region}:{account}:rule/{bus}/{rule}")
    }
}

/// The ARN of a queue.
pub fn queue_arn(region: &str, account: &str, queue: &str) -> String {
    let partition = partition_of_region(region);
    format!("arn:{partition}:sqs:{region}:{account}:{queue}")
}

/// The ARN of a topic.
pub fn topic_arn(region: &str, account: &str, topic: &str) -> String {
    let partition = partition_of_region(region);
    format!("arn:{partition}:sns:{region}:{account}:{topic}")
}

/// The ARN of an event bus.
pub fn bus_arn(region: &str, account: &str, bus: &str) -> String {
    let partition = partition_of_region(region);
    format!("arn:{partition}:events:{region}:{account}:event-bus/{bus}")
}

/// `arn:<partition>:s3:::<bucket>`.
pub fn bucket_arn(partition: &str, bucket: &str) -> String {
    format!("arn:{partition}:s3:::{bucket}")
}

/// The partition of an ARN (`aws`, `aws-cn`, `aws-us-gov`).
pub fn partition_of(arn: &str) -> &str {
    match arn.split(':').nth(1) {
        Some(p) if !p.is_empty() => p,
        _ => "aws",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_arns_carry_the_partition_and_custom_buses() {
        assert_eq!(
            rule_arn("us-east-1", "1", "default", "r"),
            "arn:aws:events:us-east-1:1:rule/r"
        );
        assert_eq!(
            rule_arn("cn-north-1", "1", "orders", "r"),
            "arn:aws-cn:events:cn-north-1:1:rule/orders/r"
        );
        assert_eq!(
            rule_arn("us-gov-west-1", "1", "default", "r"),
            "arn:aws-us-gov:events:us-gov-west-1:1:rule/r"
        );
        assert_eq!(partition_of("arn:aws-cn:sqs:cn-north-1:1:q"), "aws-cn");
        assert_eq!(bucket_arn("aws", "b"), "arn:aws:s3:::b");
    }
}
