import type { IncomingMessage, ServerResponse } from 'node:http';
import { errorCodes } from 'fastify';
import secureJson from 'secure-json-parse';
import { errorAnswer } from '../config/http-errors';
import type { Predict, PredictAnswer } from './predictor';

/** POST /v1/models/:model/predict, with or without a query string. */
const PREDICT = /^\/v1\/models\/([^/?#]+)\/predict(?:\?|$)/;
/** Fastify's defaults: a body with a __proto__ or constructor.prototype key is refused, not parsed. */
const JSON_OPTIONS = { protoAction: 'error', constructorAction: 'error' } as const;

/**
 * The prediction route on Node's own http, in front of Fastify: Fastify's
 * routing, hooks and body parser cost a fifth of a bare route's server time
 * (the serving benchmark measures both floors), and a prediction is the one
 * request a replica answers thousands of times a second. It takes only what
 * it answers exactly as Fastify would: a POST to the route with a JSON body
 * whose declared length is within the limit, while the service is not
 * closing. Anything else (another route, a chunked, empty or oversized body,
 * another content type, a closing service) goes on to Fastify, whose route
 * calls the same predict. Returns whether it took the request.
 */
export function fastPredict(predict: Predict, bodyLimit: number, service: string, closing: () => boolean): (req: IncomingMessage, res: ServerResponse) => boolean {
  return (req, res) => {
    if (req.method !== 'POST' || closing()) return false;
    const route = PREDICT.exec(req.url ?? '');
    const length = Number(req.headers['content-length']);
    if (!route || !(length > 0 && length <= bodyLimit) || req.headers['transfer-encoding'] !== undefined || !isJson(req.headers['content-type'])) return false;
    let model: string;
    try {
      model = decodeURIComponent(route[1]);
    } catch {
      return false;
    }
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      let body: unknown;
      try {
        body = secureJson.parse((chunks.length === 1 ? chunks[0] : Buffer.concat(chunks)).toString('utf8'), undefined, JSON_OPTIONS);
      } catch {
        return answerError(res, new errorCodes.FST_ERR_CTP_INVALID_JSON_BODY(), service, req.url);
      }
      predict(model, req.headers.authorization, body).then(
        (a) => answer(res, a),
        (err: Error) => answerError(res, err, service, req.url),
      );
    });
    return true;
  };
}

function answer(res: ServerResponse, a: PredictAnswer): void {
  const json = JSON.stringify(a.body);
  res.writeHead(a.code, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(json), ...a.headers });
  res.end(json);
}

function answerError(res: ServerResponse, err: Error, service: string, url: string | undefined): void {
  const { status, body } = errorAnswer(err, service, url);
  answer(res, { code: status, body });
}

/** A content type whose media type is application/json, parameters (a charset) aside, as Fastify's JSON parser takes it. */
function isJson(contentType: string | undefined): boolean {
  if (contentType === undefined) return false;
  const semicolon = contentType.indexOf(';');
  return (semicolon < 0 ? contentType : contentType.slice(0, semicolon)).trim().toLowerCase() === 'application/json';
}
