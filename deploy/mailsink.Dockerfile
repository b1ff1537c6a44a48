# The project's mail sink: an SMTP server that keeps what it receives and shows it over
# HTTP (GET /messages, DELETE /messages). For docker-compose.yml and the end-to-end suite,
# never for production mail. Built like Dockerfile: deploy/build.sh fills deploy/build/.
FROM scratch

COPY build/mailsink /usr/local/bin/mailsink

USER 65532:65532

# 2525 SMTP, 8025 HTTP.
EXPOSE 2525/tcp 8025/tcp

ENTRYPOINT ["/usr/local/bin/mailsink"]
CMD ["--smtp-addr", "0.0.0.0:2525", "--http-addr", "0.0.0.0:8025"]
