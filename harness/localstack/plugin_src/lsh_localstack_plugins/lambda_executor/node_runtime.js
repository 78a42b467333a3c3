'use strict';
/*
 * A Node.js runtime interface client for the `process` Lambda executor (no npm dependencies).
 *
 * Run by bridge.py as `node node_runtime.js <bridge-pid> <code-dir> <handler>` in place of AWS's
 * `aws-lambda-ric` (4.x needs node >= 22, 3.x needs a native build with autotools). It speaks the
 * same Lambda Runtime API to the bridge (AWS_LAMBDA_RUNTIME_API, bound to 127.0.0.1):
 * GET /invocation/next, POST /invocation/<id>/response | /error, POST /init/error. The bridge does
 * what the Lambda service does around it (timeouts, START/END/REPORT, logs before the result,
 * restarts); this file does what AWS's Node runtime does inside: load the handler (CommonJS or
 * ES module), build the context, await a promise or a callback, shape errors like AWS
 * ({errorType, errorMessage, trace}) and prefix console output (timestamp, request id, level).
 */

const fs = require('fs');
const http = require('http');
const path = require('path');
const util = require('util');
const { pathToFileURL } = require('url');

const API = '/2018-06-01/runtime';
const [bridgePid, codeDir, handlerString] = process.argv.slice(2);

// Die with the bridge: it is our parent (setpriv --pdeathsig covers a SIGKILLed bridge; this
// covers a bridge that died before that was set up, and runs without setpriv).
if (process.ppid !== Number(bridgePid)) process.exit(70);
setInterval(() => {
  if (process.ppid !== Number(bridgePid)) process.exit(70);
}, 500).unref();

process.chdir(codeDir);

// ---------------------------------------------------------------------------------------------
// logging: AWS's format, written synchronously to stdout (the bridge's pipe) so every line is in
// the pipe before the result is posted

let currentRequestId;
const JSON_FORMAT = process.env.AWS_LAMBDA_LOG_FORMAT === 'JSON';
const LEVELS = { TRACE: 0, DEBUG: 1, INFO: 2, WARN: 3, ERROR: 4, FATAL: 5 };
const minLevel = JSON_FORMAT ? LEVELS[(process.env.AWS_LAMBDA_LOG_LEVEL || 'TRACE').toUpperCase()] ?? 0 : 0;
const sleepCell = new Int32Array(new SharedArrayBuffer(4));

function writeOut(text) {
  const buf = Buffer.from(text, 'utf8');
  let offset = 0;
  while (offset < buf.length) {
    try {
      offset += fs.writeSync(1, buf, offset, buf.length - offset);
    } catch (err) {
      if (err.code !== 'EAGAIN') return; // stdout is gone: nothing to log to
      Atomics.wait(sleepCell, 0, 0, 1); // the pipe is full until the bridge reads it
    }
  }
}

function logLine(level, args) {
  if (LEVELS[level] < minLevel) return;
  const message = util.format(...args);
  const timestamp = new Date().toISOString();
  if (JSON_FORMAT) {
    writeOut(JSON.stringify({ timestamp, level, requestId: currentRequestId, message }) + '\n');
  } else {
    writeOut(`${timestamp}\t${currentRequestId}\t${level}\t${message}\n`);
  }
}

console.log = (...args) => logLine('INFO', args);
console.info = (...args) => logLine('INFO', args);
console.warn = (...args) => logLine('WARN', args);
console.error = (...args) => logLine('ERROR', args);
console.debug = (...args) => logLine('DEBUG', args);
console.trace = (...args) => logLine('TRACE', args);
console.fatal = (...args) => logLine('FATAL', args);

// ---------------------------------------------------------------------------------------------
// errors in AWS's shape

function toRapidResponse(error) {
  try {
    if (util.types.isNativeError(error) || (error && typeof error.message === 'string' && typeof error.stack === 'string')) {
      return {
        errorType: error.name,
        errorMessage: error.message,
        trace: String(error.stack).split('\n'),
      };
    }
    return { errorType: typeof error, errorMessage: String(error), trace: [] };
  } catch (_) {
    return {
      errorType: 'handled',
      errorMessage: 'callback called with Error argument, but there was a problem while retrieving one or more of its message, name, and stack',
      trace: [],
    };
  }
}

function formatted(response) {
  return JSON.stringify({ errorType: response.errorType, errorMessage: response.errorMessage, stack: response.trace });
}

class RuntimeError extends Error {
  constructor(name, message) {
    super(message);
    this.name = name;
  }
}

// ---------------------------------------------------------------------------------------------
// the Runtime API client

const [apiHost, apiPort] = (process.env.AWS_LAMBDA_RUNTIME_API || '').split(':');
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

function call(method, urlPath, body, headers) {
  return new Promise((resolve, reject) => {
    const allHeaders = { ...(headers || {}) };
    if (body !== undefined) allHeaders['Content-Length'] = Buffer.byteLength(body);
    const req = http.request(
      { host: apiHost, port: Number(apiPort), method, path: API + urlPath, agent, headers: allHeaders },
      (res) => {
        const chunks = [];
        res.on('data', (chunk) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

function postError(urlPath, response) {
  return call('POST', urlPath, JSON.stringify(response), {
    'Content-Type': 'application/json',
    'Lambda-Runtime-Function-Error-Type': String(response.errorType),
  });
}

async function initError(error) {
  const response = toRapidResponse(error);
  logLine('ERROR', ['Uncaught Exception \t' + formatted(response)]);
  try {
    await postError('/init/error', response);
  } finally {
    process.exit(129);
  }
}

// ---------------------------------------------------------------------------------------------
// ES modules do not read NODE_PATH; AWS's runtime still lets them import the SDK it ships. This
// resolve hook retries a bare specifier from each NODE_PATH folder (layers, the SDK, the code).

const ESM_NODE_PATH_HOOK = `
import { pathToFileURL } from 'node:url';
let dirs = [];
export async function initialize(data) { dirs = data.dirs; }
export async function resolve(specifier, context, next) {
  try {
    return await next(specifier, context);
  } catch (err) {
    if (err.code !== 'ERR_MODULE_NOT_FOUND' || /^[./]|^[a-z]+:/i.test(specifier)) throw err;
    for (const dir of dirs) {
      try {
        return await next(specifier, { ...context, parentURL: pathToFileURL(dir + '/lsh-resolve.mjs').href });
      } catch (_) {}
    }
    throw err;
  }
}
`;
let esmHookRegistered = false;

function importModule(file) {
  const dirs = (process.env.NODE_PATH || '').split(path.delimiter).filter(Boolean);
  const { register } = require('module');
  if (!esmHookRegistered && dirs.length && typeof register === 'function') {
    esmHookRegistered = true;
    register('data:text/javascript,' + encodeURIComponent(ESM_NODE_PATH_HOOK), { data: { dirs } });
  }
  return import(pathToFileURL(file).href);
}

// ---------------------------------------------------------------------------------------------
// loading the handler (AWS: "<path/>module.function[.nested]", module relative to the code dir)

async function loadHandler() {
  const slash = handlerString.lastIndexOf('/');
  const dir = handlerString.slice(0, slash + 1);
  const rest = handlerString.slice(slash + 1);
  const dot = rest.indexOf('.');
  if (dot <= 0 || dot === rest.length - 1) {
    throw new RuntimeError('Runtime.MalformedHandlerName', 'Bad handler');
  }
  const moduleName = dir + rest.slice(0, dot);
  const functionPath = rest.slice(dot + 1).split('.');
  const base = path.resolve(codeDir, moduleName);
  const file = ['.js', '.mjs', '.cjs', ''].map((ext) => base + ext).find((f) => fs.existsSync(f) && fs.statSync(f).isFile());
  if (!file) {
    throw new RuntimeError('Runtime.ImportModuleError', `Error: Cannot find module '${moduleName}'`);
  }
  let mod;
  try {
    if (file.endsWith('.mjs')) {
      mod = await importModule(file);
    } else {
      try {
        mod = require(file);
      } catch (err) {
        if (err.code !== 'ERR_REQUIRE_ESM') throw err;
        mod = await importModule(file); // a .js file in a "type": "module" package
      }
    }
  } catch (err) {
    if (err instanceof SyntaxError) throw new RuntimeError('Runtime.UserCodeSyntaxError', `${err.name}: ${err.message}`);
    if (err.code === 'MODULE_NOT_FOUND' || err.code === 'ERR_MODULE_NOT_FOUND') {
      throw new RuntimeError('Runtime.ImportModuleError', `Error: ${err.message}`);
    }
    throw err;
  }
  const lookup = (root) => functionPath.reduce((obj, key) => (obj == null ? undefined : obj[key]), root);
  let handler = lookup(mod);
  if (handler === undefined && mod && mod.default) handler = lookup(mod.default);
  if (typeof handler !== 'function') {
    throw new RuntimeError('Runtime.HandlerNotFound', `${moduleName}.${functionPath.join('.')} is undefined or not exported`);
  }
  return handler;
}

// ---------------------------------------------------------------------------------------------
// invocations

function parseJsonHeader(value) {
  if (!value) return undefined;
  try {
    return JSON.parse(value);
  } catch (_) {
    return undefined;
  }
}

function makeContext(headers, settle) {
  const deadline = Number(headers['lambda-runtime-deadline-ms']);
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
    functionVersion: process.env.AWS_LAMBDA_FUNCTION_VERSION,
    invokedFunctionArn: headers['lambda-runtime-invoked-function-arn'],
    memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    awsRequestId: headers['lambda-runtime-aws-request-id'],
    logGroupName: process.env.AWS_LAMBDA_LOG_GROUP_NAME,
    logStreamName: process.env.AWS_LAMBDA_LOG_STREAM_NAME,
    identity: parseJsonHeader(headers['lambda-runtime-cognito-identity']),
    clientContext: parseJsonHeader(headers['lambda-runtime-client-context']),
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    // the legacy completion methods
    done: (err, result) => settle(err, result),
    succeed: (result) => settle(null, result),
    fail: (err) => settle(err == null ? new Error('handled') : err),
  };
}

function runHandler(handler, event, headers) {
  return new Promise((resolve, reject) => {
    let settled = false;
    const settle = (err, result) => {
      if (settled) return;
      settled = true;
      if (err !== null && err !== undefined) reject(err);
      else resolve(result);
    };
    const context = makeContext(headers, settle);
    let returned;
    try {
      returned = handler(event, context, settle);
    } catch (err) {
      settle(err);
      return;
    }
    if (returned && typeof returned.then === 'function') {
      returned.then((result) => settle(null, result), (err) => settle(err === undefined ? new Error('undefined') : err));
    } else if (handler.length < 3) {
      settle(null, undefined); // neither a promise nor a callback: AWS answers null
    }
  });
}

let inFlight = null; // the request id an uncaught exception belongs to

async function failInFlight(error, errorType) {
  const response = toRapidResponse(error);
  if (errorType) {
    response.errorType = errorType;
    response.errorMessage = `${error && error.name ? error.name : 'Error'}: ${error && error.message !== undefined ? error.message : String(error)}`;
  }
  logLine('ERROR', [(errorType ? 'Unhandled Promise Rejection' : 'Uncaught Exception') + ' \t' + formatted(response)]);
  try {
    if (inFlight) await postError(`/invocation/${inFlight}/error`, response);
    else await postError('/init/error', response);
  } catch (_) {
    // the bridge reports the exit instead
  }
  process.exit(129);
}

process.on('uncaughtException', (err) => failInFlight(err));
process.on('unhandledRejection', (reason) => failInFlight(reason, 'Runtime.UnhandledPromiseRejection'));

async function main() {
  let handler;
  try {
    handler = await loadHandler();
  } catch (err) {
    await initError(err);
    return;
  }
  for (;;) {
    const next = await call('GET', '/invocation/next');
    if (next.status !== 200) process.exit(0); // this runtime was retired by the bridge
    const headers = next.headers;
    const requestId = headers['lambda-runtime-aws-request-id'];
    if (headers['lambda-runtime-trace-id']) process.env._X_AMZN_TRACE_ID = headers['lambda-runtime-trace-id'];
    else delete process.env._X_AMZN_TRACE_ID;
    currentRequestId = requestId;
    inFlight = requestId;
    let outcome;
    try {
      const text = next.body.toString('utf8');
      const event = text.length ? JSON.parse(text) : null;
      const result = await runHandler(handler, event, headers);
      const body = JSON.stringify(result === undefined ? null : result);
      outcome = call('POST', `/invocation/${requestId}/response`, body === undefined ? 'null' : body, {
        'Content-Type': 'application/json',
      });
    } catch (err) {
      const response = toRapidResponse(err);
      logLine('ERROR', ['Invoke Error \t' + formatted(response)]);
      outcome = postError(`/invocation/${requestId}/error`, response);
    }
    inFlight = null;
    await outcome;
  }
}

main().catch((err) => {
  logLine('ERROR', ['lsh node runtime failed: ' + (err && err.stack ? err.stack : String(err))]);
  process.exit(1);
});
