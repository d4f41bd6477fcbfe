import { inspectorScenarios } from "./inspector.js";

inspectorScenarios("1.x");
