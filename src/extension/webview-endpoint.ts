/** Adapts a VS Code webview to the messenger's Endpoint. */
import * as vscode from 'vscode';
import type { Endpoint } from '../protocol/messenger';

/** An Endpoint that posts to and listens on a webview. */
export function webviewEndpoint(webview: vscode.Webview): Endpoint {
  return {
    post: (m) => void webview.postMessage(m),
    listen: (cb) => webview.onDidReceiveMessage(cb),
  };
}
