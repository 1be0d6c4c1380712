// ES module entry of connector.js: `import { WebSocketConnector } from "./connector.mjs"`.
// In a browser connector.js runs as a module with no exports and sets the global; in Node.js
// it is a CommonJS module whose exports arrive as `default`.
import * as loaded from "./connector.js";

export const WebSocketConnector = loaded.default || globalThis.WebSocketConnector;
export default WebSocketConnector;
