// The host page of Metabase's embedding SDK (React) for tenantgate's browser
// test and demo. The page that loads this bundle says what to render in
// window.tenantgateSDK: {metabaseInstanceUrl, questionId,
// interactiveQuestionId, dashboardId} (each optional but the first), with
// metabaseInstanceUrl the gate (e.g. https://app.example/analytics). The
// SDK then discovers the gate's JWT provider through the gate's
// GET /auth/sso, fetches a ticket from it with the app's session cookie,
// and exchanges it at the gate; it never holds a Metabase credential.
import React from "react";
import { createRoot } from "react-dom/client";
import {
  InteractiveQuestion,
  MetabaseProvider,
  StaticDashboard,
  StaticQuestion,
} from "@metabase/embedding-sdk-react";

const cfg = window.tenantgateSDK || {};

// The SDK's errors are shown on the page (and logged) rather than leaving a
// blank chart: the test reads #sdk-errors.
function ErrorBox({ message }) {
  const text = typeof message === "string" ? message : String(message);
  console.error("tenantgate-sdkhost: the SDK reports: " + text);
  return <div className="sdk-error" role="alert">{text}</div>;
}

function App() {
  return (
    <MetabaseProvider
      authConfig={{ metabaseInstanceUrl: cfg.metabaseInstanceUrl, preferredAuthMethod: "jwt" }}
      errorComponent={ErrorBox}
    >
      {cfg.questionId ? (
        <section id="sdk-question" data-question-id={cfg.questionId}>
          <StaticQuestion questionId={cfg.questionId} height={360} />
        </section>
      ) : null}
      {cfg.interactiveQuestionId ? (
        <section id="sdk-interactive" data-question-id={cfg.interactiveQuestionId}>
          <InteractiveQuestion questionId={cfg.interactiveQuestionId} height={420} />
        </section>
      ) : null}
      {cfg.dashboardId ? (
        <section id="sdk-dashboard" data-dashboard-id={cfg.dashboardId}>
          <StaticDashboard dashboardId={cfg.dashboardId} />
        </section>
      ) : null}
    </MetabaseProvider>
  );
}

const el = document.getElementById("sdk-root");
if (el) {
  createRoot(el).render(<App />);
}
