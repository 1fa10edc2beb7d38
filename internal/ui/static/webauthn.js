// Passkeys (WebAuthn) for the sign-in pages: passwordless sign-in, passkey
// as second factor, adding and removing passkeys. Loaded with `defer` from
// our own origin (CSP script-src 'self'); no inline script, no libraries.
//
// The page provides:
//   <meta name="csrf-token" content="...">      sent as X-CSRF-Token
//   <meta name="webauthn-base" content="...">   URL path of the JSON API
//   #passkey-login      button: passwordless sign-in, then submits #passkey-continue
//                       (a checked #remember_me keeps the session, as for passwords)
//   #passkey-2fa        button: passkey as second factor, then submits #passkey-continue
//   #passkey-register   button (+ input #passkey-name): adds a passkey, then reloads;
//                       when the server wants a fresher or stronger sign-in
//                       first (login_required), submits #passkey-stepup, the
//                       settings page's hidden form that starts the step-up
//                       (removing a passkey is a plain form of the page)
//   #recovery-new       section (hidden) where the recovery codes that come
//                       with a first passkey are shown once
//   #passkey-error      element (role=alert) where failures are shown
//   <script type="application/json" id="messages">  the texts below in the
//                       page's language (message IDs of package i18n)
(function () {
  'use strict';

  function meta(name) {
    var m = document.querySelector('meta[name="' + name + '"]');
    return m ? m.content : '';
  }

  var messages = {};
  try {
    var holder = document.getElementById('messages');
    messages = holder ? JSON.parse(holder.textContent) || {} : {};
  } catch (e) {
    messages = {};
  }

  // text returns the page's translation of id (English fallback), with
  // {name} placeholders filled from vars.
  function text(id, fallback, vars) {
    var s = typeof messages[id] === 'string' && messages[id] !== '' ? messages[id] : fallback;
    Object.keys(vars || {}).forEach(function (k) {
      s = s.split('{' + k + '}').join(String(vars[k]));
    });
    return s;
  }
  var csrf = meta('csrf-token');
  var base = meta('webauthn-base');

  // --- base64url <-> ArrayBuffer ---

  function toBuffer(s) {
    s = String(s).replace(/-/g, '+').replace(/_/g, '/');
    while (s.length % 4) {
      s += '=';
    }
    var bin = atob(s);
    var out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) {
      out[i] = bin.charCodeAt(i);
    }
    return out.buffer;
  }

  function toBase64url(buf) {
    if (!buf) {
      return undefined;
    }
    var bytes = new Uint8Array(buf);
    var bin = '';
    for (var i = 0; i < bytes.length; i++) {
      bin += String.fromCharCode(bytes[i]);
    }
    return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  }

  function descriptors(list) {
    return (list || []).map(function (d) {
      var out = { type: d.type || 'public-key', id: toBuffer(d.id) };
      if (d.transports) {
        out.transports = d.transports;
      }
      return out;
    });
  }

  // --- options from the server -> the browser API ---

  function requestOptions(o) {
    var out = Object.assign({}, o, { challenge: toBuffer(o.challenge) });
    if (o.allowCredentials) {
      out.allowCredentials = descriptors(o.allowCredentials);
    }
    return out;
  }

  function creationOptions(o) {
    var out = Object.assign({}, o, {
      challenge: toBuffer(o.challenge),
      user: Object.assign({}, o.user, { id: toBuffer(o.user.id) })
    });
    if (o.excludeCredentials) {
      out.excludeCredentials = descriptors(o.excludeCredentials);
    }
    return out;
  }

  // --- the browser's credentials -> JSON for the server ---

  function common(cred) {
    return {
      id: cred.id,
      rawId: toBase64url(cred.rawId),
      type: cred.type,
      clientExtensionResults: cred.getClientExtensionResults ? cred.getClientExtensionResults() : {},
      authenticatorAttachment: cred.authenticatorAttachment || undefined
    };
  }

  function assertionJSON(cred) {
    var out = common(cred);
    out.response = {
      clientDataJSON: toBase64url(cred.response.clientDataJSON),
      authenticatorData: toBase64url(cred.response.authenticatorData),
      signature: toBase64url(cred.response.signature),
      userHandle: toBase64url(cred.response.userHandle)
    };
    return out;
  }

  function attestationJSON(cred) {
    var out = common(cred);
    out.response = {
      clientDataJSON: toBase64url(cred.response.clientDataJSON),
      attestationObject: toBase64url(cred.response.attestationObject)
    };
    if (typeof cred.response.getTransports === 'function') {
      out.response.transports = cred.response.getTransports();
    }
    return out;
  }

  // --- talking to the server ---

  function ApiError(message, code) {
    this.name = 'ApiError';
    this.message = message;
    this.code = code || '';
  }

  function api(method, path, body) {
    var init = {
      method: method,
      credentials: 'same-origin',
      cache: 'no-store',
      // The page's language (ui_locales or Accept-Language chose it), so
      // that error descriptions come back in it too.
      headers: { 'X-CSRF-Token': csrf, 'Accept': 'application/json', 'Accept-Language': document.documentElement.lang || 'en' }
    };
    if (body !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    return fetch(base + path, init).then(function (resp) {
      return resp.json().catch(function () {
        return {};
      }).then(function (data) {
        if (!resp.ok) {
          throw new ApiError(data.error_description || text('passkey.refused', 'The sign-in service refused the request ({status}).', { status: resp.status }), data.error);
        }
        return data;
      });
    });
  }

  // --- the page ---

  var errorBox = document.getElementById('passkey-error');

  function showError(message) {
    if (!errorBox) {
      window.alert(message);
      return;
    }
    errorBox.textContent = message;
    errorBox.hidden = false;
  }

  function clearError() {
    if (errorBox) {
      errorBox.textContent = '';
      errorBox.hidden = true;
    }
  }

  // noPasskey is what a sign-in ceremony's NotAllowedError says. Browsers
  // report a device without a passkey for this site exactly as a closed or
  // timed-out prompt (so that sites cannot probe for passkeys), so the
  // message names that case first, with the site the passkey must be for
  // (the relying party ID is the issuer's host).
  function noPasskey(kind) {
    var site = window.location.hostname;
    if (kind === 'login') {
      return text('passkey.none_login', 'No passkey was used. If this device has no passkey for {site}' +
        ', sign in with your username and password instead (you can add a passkey in your account settings). ' +
        'If you closed the prompt, try again.', { site: site });
    }
    return text('passkey.none_2fa', 'No passkey was used. If this device has none of your passkeys for {site}' +
      ', use a device that has one, or another way to confirm it is you. If you closed the prompt, try again.', { site: site });
  }

  function explain(err, kind) {
    if (err instanceof ApiError) {
      return err.message;
    }
    switch (err && err.name) {
      case 'NotAllowedError':
        if (kind === 'login' || kind === '2fa') {
          return noPasskey(kind);
        }
        return text('passkey.cancelled', 'The passkey prompt was closed or timed out. Try again when you are ready.');
      case 'AbortError':
        return text('passkey.cancelled', 'The passkey prompt was closed or timed out. Try again when you are ready.');
      case 'InvalidStateError':
        return text('passkey.exists', 'This device already holds a passkey for your account.');
      case 'SecurityError':
        return text('passkey.insecure', 'Passkeys cannot be used on this address.');
      case 'NotSupportedError':
        return text('passkey.unsupported_device', 'This device has no passkey that works here.');
      case 'TypeError':
        return text('passkey.unreachable', 'The sign-in service could not be reached. Check your connection and try again.');
    }
    return text('passkey.failed', 'Something went wrong with the passkey. Please try again.');
  }

  function supported() {
    if (!base || !window.PublicKeyCredential || !navigator.credentials) {
      showError(text('passkey.unsupported_browser', 'This browser does not support passkeys.'));
      return false;
    }
    return true;
  }

  // busy runs task with the button disabled, showing any failure.
  function busy(button, task, kind) {
    if (button.disabled || !supported()) {
      return;
    }
    clearError();
    button.disabled = true;
    button.setAttribute('aria-busy', 'true');
    Promise.resolve().then(task).catch(function (err) {
      showError(explain(err, kind));
    }).then(function () {
      button.disabled = false;
      button.removeAttribute('aria-busy');
    });
  }

  function continueFlow() {
    var form = document.getElementById('passkey-continue');
    if (form) {
      form.submit();
    } else {
      window.location.reload();
    }
  }

  // assert runs a sign-in ceremony: kind is "login" or "2fa".
  function assert(kind) {
    return api('POST', '/' + kind + '/options').then(function (options) {
      return navigator.credentials.get({ publicKey: requestOptions(options) });
    }).then(function (cred) {
      if (!cred) {
        throw { name: 'NotAllowedError' };
      }
      var finish = '/' + kind + '/finish';
      var remember = document.getElementById('remember_me');
      if (kind === 'login' && remember && remember.checked) {
        finish += '?remember_me=1';
      }
      return api('POST', finish, assertionJSON(cred));
    }).then(continueFlow);
  }

  function register() {
    var input = document.getElementById('passkey-name');
    var name = input ? input.value.trim() : '';
    return api('POST', '/register/options').then(function (options) {
      return navigator.credentials.create({ publicKey: creationOptions(options) });
    }).then(function (cred) {
      if (!cred) {
        throw { name: 'NotAllowedError' };
      }
      return api('POST', '/register/finish', { name: name, credential: attestationJSON(cred) });
    }).then(function (res) {
      // A first second factor comes with recovery codes, shown this once.
      if (!(res && res.recovery_codes && showRecoveryCodes(res.recovery_codes))) {
        window.location.assign(window.location.pathname);
      }
    }, stepUp);
  }

  // stepUp answers a refused registration: when the server wants a fresher
  // or stronger sign-in first, the page's #passkey-stepup form asks for it
  // in place (and comes back ready to add the passkey); other failures are
  // shown as they are.
  function stepUp(err) {
    var form = document.getElementById('passkey-stepup');
    if (err instanceof ApiError && err.code === 'login_required' && form) {
      form.submit();
      return new Promise(function () {}); // the page is leaving
    }
    throw err;
  }

  // showRecoveryCodes fills the settings page's hidden #recovery-new
  // section with codes; false when the page has none.
  function showRecoveryCodes(codes) {
    var section = document.getElementById('recovery-new');
    var list = document.getElementById('recovery-new-list');
    if (!section || !list) {
      return false;
    }
    codes.forEach(function (c) {
      var li = document.createElement('li');
      var code = document.createElement('code');
      code.textContent = c;
      li.appendChild(code);
      list.appendChild(li);
    });
    section.hidden = false;
    var heading = document.getElementById('recovery-new-heading');
    if (heading) {
      heading.focus();
    }
    return true;
  }

  var recoveryDone = document.getElementById('recovery-new-done');
  if (recoveryDone) {
    recoveryDone.addEventListener('click', function () {
      window.location.assign(window.location.pathname);
    });
  }

  function bind(id, task, kind) {
    var button = document.getElementById(id);
    if (button) {
      button.addEventListener('click', function (ev) {
        ev.preventDefault();
        busy(button, task, kind);
      });
    }
  }

  bind('passkey-login', function () { return assert('login'); }, 'login');
  bind('passkey-2fa', function () { return assert('2fa'); }, '2fa');
  bind('passkey-register', register, 'register');

  var input = document.getElementById('passkey-name');
  var registerButton = document.getElementById('passkey-register');
  if (input && registerButton) {
    input.addEventListener('keydown', function (ev) {
      if (ev.key === 'Enter') {
        ev.preventDefault();
        registerButton.click();
      }
    });
  }
})();
