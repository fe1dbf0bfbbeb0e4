//! The common SQS producer against moto's SQS: batches of ten, every message delivered
//! once, and oversize messages refused before anything is sent.

use common::sqs::{MAX_MESSAGE_BYTES, OutgoingMessage, Producer, SendError};

use crate::support::sqs;

async fn queue(client: &aws_sdk_sqs::Client) -> String {
    let name = format!("kit-{}", uuid::Uuid::new_v4().simple());
    client
        .create_queue()
        .queue_name(name)
        .send()
        .await
        .expect("create queue")
        .queue_url
        .expect("queue url")
}

async fn receive_all(client: &aws_sdk_sqs::Client, url: &str) -> Vec<String> {
    crate::support::take_all(client, url)
        .await
        .into_iter()
        .map(|message| message.body.unwrap_or_default())
        .collect()
}

#[tokio::test]
async fn a_producer_delivers_every_message_once_in_batches() {
    let client = sqs().await;
    let url = queue(&client).await;
    let producer = Producer::new(client.clone(), url.clone());
    let messages: Vec<OutgoingMessage> = (0..25)
        .map(|i| OutgoingMessage::new(format!("{{\"n\":{i}}}")))
        .collect();
    assert_eq!(producer.send_all(messages).await.expect("sent"), 25);
    let mut bodies = receive_all(&client, &url).await;
    bodies.sort();
    let mut expected: Vec<String> = (0..25).map(|i| format!("{{\"n\":{i}}}")).collect();
    expected.sort();
    assert_eq!(bodies, expected);
}

#[tokio::test]
async fn an_oversize_message_is_refused_before_anything_is_sent() {
    let client = sqs().await;
    let url = queue(&client).await;
    let producer = Producer::new(client.clone(), url.clone());
    let messages = vec![
        OutgoingMessage::new("small"),
        OutgoingMessage::new("z".repeat(MAX_MESSAGE_BYTES + 1)),
    ];
    let error = producer.send_all(messages).await.expect_err("too large");
    assert!(
        matches!(error, SendError::TooLarge { index: 1, .. }),
        "{error}"
    );
    assert!(receive_all(&client, &url).await.is_empty(), "nothing sent");
}
