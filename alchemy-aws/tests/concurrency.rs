//! Conditional writes under contention, in MiniStack.

use alchemy::bucket::{BucketClient, BucketError};
use alchemy_aws::testing::Emulator;
use futures::future::join_all;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixteen_concurrent_creates_have_exactly_one_winner() {
    let emulator = Emulator::ministack().await.expect("start MiniStack");
    let client = BucketClient::new(emulator.create_bucket("contended").await.expect("bucket"));
    for round in 0..5 {
        let key = format!("lock-{round}");
        let attempts = (0..16).map(|writer| {
            let client = client.clone();
            let key = key.clone();
            tokio::spawn(async move {
                let outcome = client.put_if_absent(&key, format!("writer {writer}")).await;
                (writer, outcome)
            })
        });
        let mut winners = Vec::new();
        let mut losers = 0;
        for joined in join_all(attempts).await {
            match joined.expect("the writer task ran") {
                (writer, Ok(put)) => winners.push((writer, put)),
                (_, Err(BucketError::AlreadyExists { key: taken })) => {
                    assert_eq!(taken, key);
                    losers += 1;
                }
                (writer, Err(other)) => panic!("writer {writer} failed: {other}"),
            }
        }
        assert_eq!(winners.len(), 1, "round {round}: winners {winners:?}");
        assert_eq!(losers, 15, "round {round}");
        let (winner, put) = &winners[0];
        let stored = client.get_bytes(&key, 64).await.expect("read the winner");
        assert_eq!(stored, format!("writer {winner}"), "round {round}");
        assert_eq!(client.head(&key).await.expect("head").etag, put.etag);
    }
}
