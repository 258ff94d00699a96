//! The baseline: a trivial actix-web endpoint, the HTTP floor of this machine.

use actix_web::{App, HttpResponse, HttpServer, web};

/// Serves `GET /hello` on `listen` until the process is stopped.
pub async fn serve(listen: std::net::SocketAddr, workers: usize) -> std::io::Result<()> {
    HttpServer::new(|| {
        App::new().route("/hello", web::get().to(|| async { HttpResponse::Ok().body("hello") }))
    })
    .workers(workers)
    .bind(listen)?
    .run()
    .await
}
