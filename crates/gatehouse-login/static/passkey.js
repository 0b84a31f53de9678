// Passkeys (WebAuthn) on the login UI's pages: progressive enhancement.
//
// A passkey form is rendered `hidden`, with the server's options in `data-passkey-options`
// (JSON, binary values in base64url), or, on the login page, with `data-passkey-options-url`:
// the ceremony starts only when the button is pressed (the form's fields, CSRF token among them,
// are posted there; the answer names the ceremony and carries the options). `data-passkey` says
// "create" (register) or "get" (sign in). Where the browser has WebAuthn, this script shows the
// form; submitting it asks the authenticator, puts the answer (JSON, base64url) in the form's
// `credential` field and posts the form as usual, CSRF token and all. Without JavaScript or WebAuthn the forms stay hidden and
// everything else works. Loaded as a file (CSP `script-src 'self'`): no inline script.
(function () {
  "use strict";

  if (!window.PublicKeyCredential || !navigator.credentials) {
    return;
  }

  function fromBase64url(text) {
    var base64 = text.replace(/-/g, "+").replace(/_/g, "/");
    while (base64.length % 4) {
      base64 += "=";
    }
    var binary = atob(base64);
    var bytes = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i++) {
      bytes[i] = binary.charCodeAt(i);
    }
    return bytes.buffer;
  }

  function toBase64url(buffer) {
    if (!buffer) {
      return null;
    }
    var bytes = new Uint8Array(buffer);
    var binary = "";
    for (var i = 0; i < bytes.length; i++) {
      binary += String.fromCharCode(bytes[i]);
    }
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function decodeIds(list) {
    (list || []).forEach(function (descriptor) {
      descriptor.id = fromBase64url(descriptor.id);
    });
  }

  function creationOptions(options) {
    var publicKey = options.publicKey;
    publicKey.challenge = fromBase64url(publicKey.challenge);
    publicKey.user.id = fromBase64url(publicKey.user.id);
    decodeIds(publicKey.excludeCredentials);
    return { publicKey: publicKey };
  }

  function requestOptions(options) {
    var publicKey = options.publicKey;
    publicKey.challenge = fromBase64url(publicKey.challenge);
    decodeIds(publicKey.allowCredentials);
    return { publicKey: publicKey };
  }

  function extensions(credential) {
    try {
      return credential.getClientExtensionResults();
    } catch (e) {
      return {};
    }
  }

  function registration(credential) {
    var response = credential.response;
    return {
      id: credential.id,
      rawId: toBase64url(credential.rawId),
      type: credential.type,
      response: {
        attestationObject: toBase64url(response.attestationObject),
        clientDataJSON: toBase64url(response.clientDataJSON),
        transports: response.getTransports ? response.getTransports() : null
      },
      extensions: extensions(credential)
    };
  }

  function assertion(credential) {
    var response = credential.response;
    return {
      id: credential.id,
      rawId: toBase64url(credential.rawId),
      type: credential.type,
      response: {
        authenticatorData: toBase64url(response.authenticatorData),
        clientDataJSON: toBase64url(response.clientDataJSON),
        signature: toBase64url(response.signature),
        userHandle: toBase64url(response.userHandle)
      },
      extensions: extensions(credential)
    };
  }

  // Starts the login page's ceremony: resolves to its options, with the form's `ceremony` field
  // set to the id the answer is posted back with.
  function fetchOptions(form, url) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams(new FormData(form)).toString()
    }).then(function (response) {
      if (!response.ok) {
        throw new Error("no passkey options: " + response.status);
      }
      return response.json();
    }).then(function (answer) {
      form.querySelector("input[name=ceremony]").value = answer.ceremony;
      return answer.options;
    });
  }

  function optionsOf(form) {
    var url = form.getAttribute("data-passkey-options-url");
    if (url) {
      return fetchOptions(form, url);
    }
    return Promise.resolve(JSON.parse(form.getAttribute("data-passkey-options")));
  }

  function enhance(form) {
    var field = form.querySelector("input[name=credential]");
    var problem = form.querySelector("[data-passkey-error]");
    var mode = form.getAttribute("data-passkey");
    if (!field) {
      return;
    }
    form.hidden = false;
    form.addEventListener("submit", function (event) {
      if (field.value) {
        return;
      }
      event.preventDefault();
      if (problem) {
        problem.hidden = true;
      }
      var asked = optionsOf(form).then(function (options) {
        return mode === "create"
          ? navigator.credentials.create(creationOptions(options)).then(registration)
          : navigator.credentials.get(requestOptions(options)).then(assertion);
      });
      asked.then(function (answer) {
        field.value = JSON.stringify(answer);
        form.submit();
      }, function () {
        if (problem) {
          problem.hidden = false;
        }
      });
    });
  }

  Array.prototype.forEach.call(document.querySelectorAll("form[data-passkey]"), enhance);
})();
