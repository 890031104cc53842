//! [`MockActorClient`]: a `mockall` mock of [`ActorClient`] for unit tests.

use alchemy_stream::ByteStream;
use http::{Request, Response};

use super::{ActorClient, ActorId, Capabilities, Result, WebSocketConnection};

mockall::mock! {
    /// An [`ActorClient`] whose every call is an expectation, for unit tests of code that
    /// calls actors through an [`ActorNamespace`](super::ActorNamespace), with no provider.
    ///
    /// ```
    /// use alchemy::actor::{ActorId, ActorNamespace, ByteStream, MockActorClient};
    /// use http::{Request, Response, StatusCode};
    ///
    /// struct Room;
    ///
    /// // The handler under test: it asks the room actor how many members it has.
    /// async fn members(rooms: &ActorNamespace<Room>, room: &str) -> alchemy::actor::Result<String> {
    ///     let stub = rooms.get_by_name(room)?;
    ///     let response = stub.fetch(Request::get("/members").body(ByteStream::empty())?).await?;
    ///     let body = response.into_body().collect(1024).await?;
    ///     Ok(String::from_utf8_lossy(&body).into_owned())
    /// }
    ///
    /// let mut client = MockActorClient::new();
    /// client
    ///     .expect_id_from_name()
    ///     .withf(|name| name == "lobby")
    ///     .returning(|name| Ok(ActorId::new("id-of-lobby", Some(name))));
    /// client
    ///     .expect_fetch()
    ///     .withf(|id, req| id.as_str() == "id-of-lobby" && req.uri() == "/members")
    ///     .returning(|_, _| Ok(Response::new(ByteStream::from("3"))));
    /// let rooms = ActorNamespace::<Room>::new(client);
    ///
    /// # futures::executor::block_on(async {
    /// assert_eq!(members(&rooms, "lobby").await?, "3");
    /// # Ok::<(), alchemy::actor::ActorError>(())
    /// # }).unwrap();
    /// ```
    pub ActorClient {}

    #[async_trait::async_trait]
    impl ActorClient for ActorClient {
        fn provider(&self) -> &'static str;
        fn namespace(&self) -> &str;
        fn capabilities(&self) -> Capabilities;
        fn id_from_name(&self, name: &str) -> Result<ActorId>;
        fn new_unique_id(&self) -> Result<ActorId>;
        fn id_from_string(&self, id: &str) -> Result<ActorId>;
        async fn fetch(&self, id: &ActorId, req: Request<ByteStream>) -> Result<Response<ByteStream>>;
        async fn connect(&self, id: &ActorId, req: Request<ByteStream>) -> Result<WebSocketConnection>;
    }
}
