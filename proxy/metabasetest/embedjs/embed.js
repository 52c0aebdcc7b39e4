/* Metabase stand-in: modular embedding's /app/embed.js (Embedded Analytics JS).
 *
 * A model of the protocol of Metabase's embed.js, written for the stand-in:
 * the same custom elements, attributes, global config, iframe page and
 * postMessage messages, the same HTTP calls for the JWT handshake and the
 * guest token provider, and the same holes (messages are posted to "*";
 * the iframe checks no origin). See embedjs.go for the protocol.
 */
(function () {
  "use strict";
  if (typeof window === "undefined" || !window.customElements) return;

  var ROUTE = "embed/sdk/v1";
  var IDENTIFIER = "embed-js-identifier";
  var CLIENT = "embedding-simple";
  // Fields that may not change once an embed exists.
  var LOCKED = ["instanceUrl", "useExistingUserSession", "fetchRequestToken", "isGuest"];
  var CONFIG_KEYS = ["apiKey", "instanceUrl", "theme", "locale", "preferredAuthMethod", "fetchRequestToken",
    "useExistingUserSession", "isGuest", "jwtProviderUri", "pluginsConfig", "guestEmbedProviderUri"];

  var active = new Set();
  var counter = 0; // a query parameter of the iframe's src, so iframes load in parallel

  function embedError(code, message) {
    var e = new Error(message);
    e.name = "MetabaseError";
    e.code = code;
    return e;
  }

  // An error as it crosses postMessage: a plain object.
  function plainError(err) {
    return { code: (err && err.code) || "CANNOT_FETCH_JWT_TOKEN", message: String(err && err.message ? err.message : err) };
  }

  function settingKey(attr) {
    return attr.replace(/-([a-z])/g, function (_, c) { return c.toUpperCase(); });
  }

  // Attributes are parsed naively, as Metabase's are: booleans, unsigned
  // numbers (ids), JSON for arrays and objects, else the string.
  function attributeValue(v) {
    if (v === null) return undefined;
    if (v === "" || v === "true") return true;
    if (v === "false") return false;
    if (/^\d+(\.\d+)?$/.test(v)) return Number(v);
    if (/^[\[{]/.test(v)) {
      try { return JSON.parse(v); } catch (e) { return v; }
    }
    return v;
  }

  function globalConfig() { return window.metabaseConfig || {}; }

  // The config watcher: assigning window.metabaseConfig (or one of its
  // fields) updates every embed on the page.
  (function watchConfig() {
    var current = Object.assign({}, window.metabaseConfig || {});
    function proxy(target) {
      return new Proxy(target, {
        set: function (t, prop, value) {
          t[prop] = value;
          var delta = {};
          delta[prop] = value;
          active.forEach(function (e) { e._updateSettings(delta); });
          return true;
        }
      });
    }
    var view = proxy(current);
    Object.defineProperty(window, "metabaseConfig", {
      configurable: true, enumerable: true,
      get: function () { return view; },
      set: function (next) {
        for (var k in next) {
          if (CONFIG_KEYS.indexOf(k) < 0) throw embedError("EMBED_TAG_ERROR", k + " is not a valid configuration name");
          if (LOCKED.indexOf(k) >= 0 && current[k] !== undefined && current[k] !== next[k]) {
            throw embedError("EMBED_TAG_ERROR", k + " cannot be updated after the embed is created");
          }
        }
        current = Object.assign({}, current, next);
        view = proxy(current);
        active.forEach(function (e) { e._updateSettings(current); });
      }
    });
  })();

  async function jsonOf(res, url) {
    var text = await res.text();
    try { return JSON.parse(text); } catch (e) {
      throw embedError("DEFAULT_ENDPOINT_ERROR", url + " answered " + JSON.stringify(text.slice(0, 200)));
    }
  }

  class MetabaseEmbedElement extends HTMLElement {
    constructor() {
      super();
      this._iframe = null;
      this._ready = false;
    }

    get globalSettings() { return globalConfig(); }

    // The element's attributes in camelCase over the global config.
    get properties() {
      var out = Object.assign({}, this.globalSettings);
      var names = this.constructor.observedAttributes;
      for (var i = 0; i < names.length; i++) {
        var v = this.getAttribute(names[i]);
        if (v !== null) out[settingKey(names[i])] = attributeValue(v);
      }
      out.componentName = this.localName;
      out._isLocalhost = this._isLocalhost();
      return out;
    }

    connectedCallback() {
      this.style.display = "block";
      if (this._iframe) return;
      if (!this.id) this.id = "metabase-embed-" + Math.random().toString(36).slice(2);
      try {
        this._validate(this.properties);
        this._iframe = document.createElement("iframe");
        this._iframe.src = this.globalSettings.instanceUrl + "/" + ROUTE + "?" + IDENTIFIER + "=" + counter++;
        this._iframe.style.width = "100%";
        this._iframe.style.height = "100%";
        this._iframe.style.border = "none";
        this._iframe.style.minHeight = "600px";
        this._iframe.setAttribute("data-metabase-embed", "true");
        this._onMessage = this._handleMessage.bind(this);
        window.addEventListener("message", this._onMessage);
        this.appendChild(this._iframe);
        active.add(this);
      } catch (err) {
        console.error("[metabase.embed.error]", err);
      }
    }

    disconnectedCallback() {
      window.removeEventListener("message", this._onMessage);
      this._ready = false;
      if (this._iframe) { this._iframe.remove(); this._iframe = null; }
      active.delete(this);
    }

    attributeChangedCallback(name, oldValue, newValue) {
      if (!this._iframe || oldValue === newValue) return;
      var key = settingKey(name);
      if (LOCKED.indexOf(key) >= 0) {
        console.error(key + " cannot be updated after the embed is created");
        return;
      }
      var delta = {};
      delta[key] = attributeValue(newValue);
      this._updateSettings(delta);
    }

    _isLocalhost() {
      var host = location.hostname;
      try {
        if (!this.globalSettings.instanceUrl) return true;
        if (new URL(this.globalSettings.instanceUrl).hostname === host) return true;
      } catch (e) { /* not a URL */ }
      return host === "localhost" || host === "127.0.0.1" || host === "[::1]";
    }

    _validate(s) {
      if (!s.instanceUrl) throw embedError("EMBED_TAG_ERROR", "instanceUrl must be provided");
      var methods = [s.apiKey, s.useExistingUserSession, s.preferredAuthMethod].filter(function (m) {
        return m !== undefined && m !== null && m !== false;
      });
      if (methods.length > 1) {
        throw embedError("EMBED_TAG_ERROR", "apiKey, useExistingUserSession, and preferredAuthMethod are mutually exclusive, only one can be specified.");
      }
    }

    _updateSettings(delta) {
      var next = Object.assign(this.properties, delta);
      if (!this._ready) return;
      this._validate(next);
      this.sendMessage("metabase.embed.setSettings", next);
    }

    // Functions (and pluginsConfig, which holds them) cannot be posted.
    sendMessage(type, data) {
      if (!this._iframe || !this._iframe.contentWindow) return;
      var clean = {};
      Object.keys(data).forEach(function (k) {
        if (typeof data[k] !== "function" && k !== "pluginsConfig") clean[k] = data[k];
      });
      this._iframe.contentWindow.postMessage({ type: type, data: clean }, "*");
    }

    async _handleMessage(event) {
      if (!this._iframe || event.source !== this._iframe.contentWindow || !event.data) return;
      var m = event.data;
      if (m.type === "metabase.embed.iframeReady") {
        if (this._ready) return;
        this._ready = true;
        this._iframe.setAttribute("data-iframe-loaded", "true");
        var p = this.properties;
        if (p.guestEmbedProviderUri && !p.token) {
          await this._initialGuestToken();
        } else {
          this._updateSettings({});
        }
        this.dispatchEvent(new Event("ready"));
      }
      if (m.type === "metabase.embed.requestSessionToken") await this._authenticate();
      if (m.type === "metabase.embed.requestGuestTokenRefresh") await this._refreshGuestToken(m.data && m.data.expiredToken);
    }

    _reportAuthError(err) {
      this.sendMessage("metabase.embed.reportAuthenticationError", { error: plainError(err) });
    }

    // The JWT SSO handshake, run by the host page for the iframe:
    // discovery, the app's JWT provider, the exchange.
    async _authenticate() {
      var p = this.properties;
      if (p.apiKey) return;
      try {
        var instance = p.instanceUrl;
        var headers = { "X-Metabase-Client": CLIENT };
        var discovery = new URL(instance + "/auth/sso");
        if (p.preferredAuthMethod) {
          if (p.preferredAuthMethod !== "jwt" && p.preferredAuthMethod !== "saml") {
            throw embedError("INVALID_AUTH_METHOD", "invalid auth method " + p.preferredAuthMethod);
          }
          discovery.searchParams.set("preferred_method", p.preferredAuthMethod);
        }
        var res = await fetch(discovery, { headers: headers });
        if (!res.ok) throw embedError("CANNOT_CONNECT_TO_INSTANCE", "could not connect to " + instance + ": " + res.status);
        var found = await jsonOf(res, discovery.toString());
        if (found.method !== "jwt") throw embedError("INVALID_AUTH_METHOD", "invalid auth method " + found.method);

        var provider = new URL(found.url, location.origin);
        provider.searchParams.set("response", "json");
        var pres = await fetch(provider.toString(), { method: "GET", credentials: "include" });
        if (!pres.ok) throw embedError("CANNOT_FETCH_JWT_TOKEN", "the JWT provider answered " + pres.status);
        var pj = await jsonOf(pres, provider.toString());
        if (typeof pj !== "object" || pj === null || !("jwt" in pj)) {
          throw embedError("DEFAULT_ENDPOINT_ERROR", "the JWT provider answered " + JSON.stringify(pj));
        }

        var exHeaders = { "X-Metabase-Client": CLIENT, "Content-Type": "application/json" };
        if (found.hash) exHeaders["X-Metabase-SDK-JWT-Hash"] = found.hash;
        var sres = await fetch(instance + "/auth/sso", { method: "POST", headers: exHeaders, body: JSON.stringify({ jwt: pj.jwt }) });
        if (!sres.ok) throw embedError("CANNOT_FETCH_JWT_TOKEN", instance + "/auth/sso answered " + sres.status);
        var session = await jsonOf(sres, instance + "/auth/sso");
        if (!session || typeof session !== "object" || ("status" in session && session.status !== "ok") ||
            typeof session.id !== "string" || typeof session.exp !== "number") {
          throw embedError("INVALID_SESSION_SCHEMA", "the session is not {id, exp}: " + JSON.stringify(session));
        }
        this.sendMessage("metabase.embed.submitSessionToken", { authMethod: "jwt", sessionToken: session });
      } catch (err) {
        console.error(err);
        this._reportAuthError(err);
      }
    }

    async _initialGuestToken() {
      try {
        var token = await this._callGuestTokenProvider();
        this._updateSettings({ token: token, dashboardId: undefined, questionId: undefined });
      } catch (err) {
        this._reportAuthError(err);
        this._updateSettings({ dashboardId: undefined, questionId: undefined });
      }
    }

    async _refreshGuestToken(expired) {
      try {
        var token = await this._callGuestTokenProvider(expired);
        this.sendMessage("metabase.embed.submitRefreshedGuestToken", { guestToken: token });
      } catch (err) {
        this._reportAuthError(err);
      }
    }

    // The guest token provider: POST {entityType, entityId, customContext}
    // to guestEmbedProviderUri?response=json, answered {jwt}.
    async _callGuestTokenProvider(expired) {
      var p = this.properties;
      if (!p.guestEmbedProviderUri) throw embedError("CANNOT_FETCH_JWT_TOKEN", "Guest embed provider URI is not configured.");
      var u = new URL(p.guestEmbedProviderUri, location.origin);
      u.searchParams.set("response", "json");
      var entityType = p.componentName === "metabase-dashboard" ? "dashboard" : "question";
      var id = p.componentName === "metabase-dashboard" ? p.dashboardId : p.questionId;
      if (id === undefined && expired !== undefined) {
        var claims = decodeJwt(expired);
        id = claims && claims.resource ? claims.resource[entityType] : undefined;
      }
      var body = { entityType: entityType, entityId: id };
      var cc = this["custom-context"] !== undefined ? this["custom-context"] : this.getAttribute("custom-context");
      if (cc !== undefined && cc !== null) body.customContext = cc;
      var res = await fetch(u.toString(), { method: "POST", credentials: "include", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
      if (!res.ok) throw embedError("CANNOT_FETCH_JWT_TOKEN", p.guestEmbedProviderUri + " answered " + res.status);
      var data = await jsonOf(res, u.toString());
      if (data === null || typeof data !== "object" || typeof data.jwt !== "string") {
        throw embedError("DEFAULT_ENDPOINT_ERROR", "the guest token provider answered " + JSON.stringify(data));
      }
      return data.jwt;
    }
  }

  function decodeJwt(t) {
    try {
      var part = String(t).split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
      return JSON.parse(atob(part + "===".slice((part.length + 3) % 4)));
    } catch (e) { return null; }
  }

  function define(name, attributes) {
    if (customElements.get(name)) return;
    customElements.define(name, class extends MetabaseEmbedElement {
      static get observedAttributes() { return attributes; }
    });
  }

  define("metabase-dashboard", ["dashboard-id", "token", "auto-refresh-interval", "with-title", "with-downloads",
    "with-subscriptions", "drills", "initial-parameters", "hidden-parameters", "enable-entity-navigation"]);
  define("metabase-question", ["question-id", "token", "with-title", "with-downloads", "with-alerts", "drills",
    "initial-sql-parameters", "hidden-parameters", "is-save-enabled", "target-collection", "entity-types"]);
})();
