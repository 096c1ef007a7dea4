// Standalone build of the casesync Android library (AAR). An app can instead include
// this directory as a module: include(":casesync"); project(":casesync").projectDir = file(".../mobile-bindings/android")
pluginManagement {
    repositories {
        google()
        mavenCentral()
        gradlePluginPortal()
    }
}
dependencyResolutionManagement {
    repositories {
        google()
        mavenCentral()
    }
}
rootProject.name = "casesync"
