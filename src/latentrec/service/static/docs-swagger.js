// Swagger UI's initialiser for /docs (latentrec/service/apidocs.py).  A file of the
// service's own rather than FastAPI's inline script, so /docs runs under the service's
// content security policy (script-src 'self'); the document's URL is on the element.
"use strict";
(function () {
  const element = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: element.dataset.openapiUrl,
    dom_id: "#swagger-ui",
    layout: "BaseLayout",
    deepLinking: true,
    showExtensions: true,
    showCommonExtensions: true,
    // No badge fetched from validator.swagger.io: the page reaches nothing but the service.
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
  });
})();
