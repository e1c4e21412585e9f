//! Paging through listings. The SQS and SNS clients have paginators (`into_paginator()`)
//! and the readers use them; EventBridge's model declares none, so its listings page
//! through here, the one hand-written loop: `NextToken` is followed until it is absent or
//! empty, and (like the SDK's paginators) a token repeated stops the listing.

use std::future::Future;

use super::AwsError;

/// Every item of a token-paged listing. `page(token)` makes one call and returns its items
/// and the next token.
pub async fn all<T, F, Fut>(mut page: F) -> Result<Vec<T>, AwsError>
where
    F: FnMut(Option<String>) -> Fut,
    Fut: Future<Output = Result<(Vec<T>, Option<String>), AwsError>>,
{
    let mut items = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let (mut more, next) = page(token.clone()).await?;
        items.append(&mut more);
        match next.filter(|t| !t.is_empty()) {
            Some(next) if Some(&next) != token.as_ref() => token = Some(next),
            _ => return Ok(items),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn follows_tokens_until_none_empty_or_repeated() {
        // Three pages, then no token.
        let pages = |stop: Option<&'static str>| {
            move |token: Option<String>| async move {
                Ok::<_, AwsError>(match token.as_deref() {
                    None => (vec![1, 2], Some("a".to_string())),
                    Some("a") => (vec![3], Some("b".to_string())),
                    Some("b") => (vec![4], stop.map(str::to_string)),
                    Some(other) => panic!("unexpected token {other}"),
                })
            }
        };
        assert_eq!(all(pages(None)).await.unwrap(), [1, 2, 3, 4]);
        assert_eq!(all(pages(Some(""))).await.unwrap(), [1, 2, 3, 4]);
        // A server answering the same token again would loop forever: stop.
        assert_eq!(all(pages(Some("b"))).await.unwrap(), [1, 2, 3, 4]);
    }

    #[tokio::test]
    async fn an_error_on_any_page_is_the_result() {
        let result = all(|token: Option<String>| async move {
            match token {
                None => Ok((vec![1], Some("a".to_string()))),
                Some(_) => Err(AwsError::Invalid {
                    resource: "r".into(),
                    message: "boom".into(),
                }),
            }
        })
        .await;
        assert!(matches!(result, Err(AwsError::Invalid { .. })));
    }
}
