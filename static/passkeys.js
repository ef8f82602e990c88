// Passkeys (WebAuthn) on edge-oidc's pages. The only script the provider serves, loaded from
// its own origin (CSP script-src 'self', no inline script). Pages work without it: a form
// marked `data-webauthn` keeps its passkey button hidden until this script shows it.
//
//   <form method="post" data-webauthn="get|create" data-options="{...json...}"
//         [data-conditional] data-error="a sentence">
//     <input type="hidden" name="credential" data-webauthn-result>
//     <button type="button" data-webauthn-start hidden>...</button>
//     <p data-webauthn-error hidden role="alert"></p>
//   </form>
//
// The options are the server's (challenge, RP ID, user, credentials) in their JSON form; the
// browser's answer goes back in the marked field as JSON (PublicKeyCredential.toJSON) and the
// form is submitted like any other.
(function () {
  'use strict';
  if (!window.PublicKeyCredential || !navigator.credentials) return;

  const decode = (s) => {
    const b = atob(s.replace(/-/g, '+').replace(/_/g, '/') + '==='.slice((s.length + 3) % 4));
    return Uint8Array.from(b, (c) => c.charCodeAt(0)).buffer;
  };
  const encode = (buf) => {
    if (!buf) return null;
    let s = '';
    new Uint8Array(buf).forEach((x) => (s += String.fromCharCode(x)));
    return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  };
  const ids = (list) => (list || []).map((c) => Object.assign({}, c, { id: decode(c.id) }));

  function creationOptions(o) {
    if (PublicKeyCredential.parseCreationOptionsFromJSON) return PublicKeyCredential.parseCreationOptionsFromJSON(o);
    return Object.assign({}, o, {
      challenge: decode(o.challenge),
      user: Object.assign({}, o.user, { id: decode(o.user.id) }),
      excludeCredentials: ids(o.excludeCredentials),
    });
  }

  function requestOptions(o) {
    if (PublicKeyCredential.parseRequestOptionsFromJSON) return PublicKeyCredential.parseRequestOptionsFromJSON(o);
    return Object.assign({}, o, { challenge: decode(o.challenge), allowCredentials: ids(o.allowCredentials) });
  }

  function toJSON(cred) {
    if (typeof cred.toJSON === 'function') return cred.toJSON();
    const r = cred.response;
    const response = { clientDataJSON: encode(r.clientDataJSON) };
    if (r.attestationObject) response.attestationObject = encode(r.attestationObject);
    if (r.authenticatorData) {
      response.authenticatorData = encode(r.authenticatorData);
      response.signature = encode(r.signature);
      response.userHandle = encode(r.userHandle);
    }
    return { id: cred.id, rawId: encode(cred.rawId), type: cred.type, response };
  }

  document.querySelectorAll('form[data-webauthn]').forEach((form) => {
    const mode = form.dataset.webauthn;
    const options = JSON.parse(form.dataset.options);
    const field = form.querySelector('input[data-webauthn-result]');
    const start = form.querySelector('[data-webauthn-start]');
    const error = form.querySelector('[data-webauthn-error]');
    let pending = null;

    const done = (cred) => {
      field.value = JSON.stringify(toJSON(cred));
      form.submit();
    };
    const failed = (e) => {
      if (!error || (e && e.name === 'AbortError')) return;
      error.textContent = form.dataset.error || String(e);
      error.hidden = false;
    };
    const run = (mediation) => {
      if (pending) pending.abort();
      pending = new AbortController();
      const call =
        mode === 'create'
          ? navigator.credentials.create({ publicKey: creationOptions(options), signal: pending.signal })
          : navigator.credentials.get({ publicKey: requestOptions(options), mediation, signal: pending.signal });
      return call.then((cred) => cred && done(cred));
    };

    if (start) {
      start.hidden = false;
      start.addEventListener('click', () => run('optional').catch(failed));
    }
    // Sign-in: passkeys offered in the username field's autofill (conditional mediation).
    if (mode === 'get' && 'conditional' in form.dataset && PublicKeyCredential.isConditionalMediationAvailable) {
      PublicKeyCredential.isConditionalMediationAvailable().then((ok) => ok && run('conditional').catch(() => {}));
    }
  });
})();
