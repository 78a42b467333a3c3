// Preloaded (`node --require`) into Node.js Lambda runtimes by lsh_localstack_plugins.custom_resources.
//
// Why: a custom resource's ResponseURL is https on port 443 in AWS (a presigned S3 URL), and the
// Node handlers CDK ships (and `cfn-response`) PUT their result with
// https.request({hostname, path}): port 443, certificate verified, whatever the URL says. Here the
// response route is LocalStack's own, plain HTTP on its port, so a https request whose path is
// that route's (/_lsh/cfn-custom-resource/...) is sent there over HTTP instead. Nothing else changes.
'use strict';

const http = require('http');
const https = require('https');

const ROUTE = '/_lsh/cfn-custom-resource/';
const endpoint = new URL(process.env.AWS_ENDPOINT_URL || 'http://127.0.0.1:4566');
const originalRequest = https.request;

https.request = function request(...args) {
  let url = null;
  let options = {};
  let callback;
  if (typeof args[0] === 'string' || args[0] instanceof URL) {
    url = new URL(args[0]);
    if (typeof args[1] === 'function') callback = args[1];
    else [options = {}, callback] = [args[1], args[2]];
  } else {
    [options = {}, callback] = [args[0], args[1]];
  }
  const path = url ? url.pathname + url.search : options.path || '/';
  if (!path.startsWith(ROUTE)) return originalRequest.apply(this, args);
  const target = { ...options, protocol: 'http:', hostname: endpoint.hostname,
    port: endpoint.port || 80, path, agent: undefined };
  delete target.host;
  return http.request(target, callback);
};
